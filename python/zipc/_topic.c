/* The topic's endpoints (include/zipc/topic.h): Publisher and Subscriber.
 * They are endpoint objects (_zipc.h): every method they share with the
 * channel (send, reserve, recv, view, drain, tensors, close, interrupt,
 * fileno, ...) is the channel's, running the topic's C calls through
 * pub_ops / sub_ops. This file holds what only a topic has: create,
 * subscribe (policies, history), subscribers(), latest(), last_loss and the
 * counters. */
#include "_zipc.h"

#include "zipc/topic.h"

/* ------------------------------------------------------------------------
 * Publisher
 * ------------------------------------------------------------------------ */

static int pub_reserve(void *ep, size_t n, void **buf, int64_t t) { return zipc_publisher_reserve(ep, n, buf, t); }
static int pub_commit(void *ep, size_t n, uint32_t type, unsigned flags)
{
    return zipc_publisher_commit(ep, n, type, flags);
}
static int pub_abort(void *ep) { return zipc_publisher_abort(ep); }
static int pub_flush(void *ep) { return zipc_publisher_flush(ep); }
static int pub_interrupt(void *ep) { return zipc_publisher_interrupt(ep); }
static int pub_fd(void *ep) { return zipc_publisher_fd(ep); }
static int pub_close(void *ep) { return zipc_publisher_close(ep); }

static PyObject *pub_stats(EndpointObject *self)
{
    static const char *const names[] = {"messages", "bytes", "wakeups", "sleeps", "subscribers",
                                        "joined", "departed", "died", "evicted"};
    struct zipc_publisher_stats st;
    int rc = zipc_publisher_get_stats(self->ep, &st);
    if (rc)
        return zp_raise(rc);
    const uint64_t v[] = {st.messages, st.bytes, st.wakeups, st.sleeps, st.subscribers,
                          st.joined, st.departed, st.died, st.evicted};
    return zp_counters(names, v, sizeof v / sizeof v[0]);
}

static const zp_ops pub_ops = {
    .reserve = pub_reserve, .commit = pub_commit, .abort = pub_abort, .flush = pub_flush,
    .interrupt = pub_interrupt, .fd = pub_fd, .close = pub_close, .stats = pub_stats,
};

static PyObject *Publisher_create(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "capacity", "max_subscribers", "any_uid", "peer_uid", "socket_mode",
                             "label", "spin", NULL};
    PyObject *path, *peer_uid = Py_None, *spin = Py_None;
    Py_ssize_t capacity = 1 << 20;
    unsigned int max_subscribers = 0, mode = 0;
    int any_uid = 0;
    const char *label = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|nI$pOIzO:create", kwlist, PyUnicode_FSConverter, &path,
                                     &capacity, &max_subscribers, &any_uid, &peer_uid, &mode, &label, &spin))
        return NULL;
    struct zipc_options opts = {.socket_mode = mode, .label = label};
    PyObject *res = NULL;
    if (zp_check_capacity(capacity) || zp_parse_peer_uid(peer_uid, any_uid, &opts) || zp_parse_spin(spin, &opts))
        goto out;
    if (max_subscribers > ZIPC_TOPIC_MAX_SUBSCRIBERS) {
        PyErr_Format(PyExc_ValueError, "max_subscribers must be in 1..%d (0: %d)", ZIPC_TOPIC_MAX_SUBSCRIBERS,
                     ZIPC_TOPIC_DEFAULT_SUBSCRIBERS);
        goto out;
    }
    zipc_publisher *pub = NULL;
    int rc = zipc_topic_create(&pub, PyBytes_AS_STRING(path), (size_t)capacity, max_subscribers, &opts);
    if (rc)
        zp_raise_path(rc, path);
    else
        res = zp_endpoint_new(type, pub, &pub_ops, ZIPC_ROLE_PRODUCER, zipc_publisher_capacity(pub),
                              zipc_publisher_max_message(pub), 0);
out:
    Py_DECREF(path);
    return res;
}

static PyObject *Publisher_subscribers(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (zp_enter(self))
        return NULL;
    int n = zipc_publisher_subscribers(self->ep);
    zp_leave(self);
    return n < 0 ? zp_raise(n) : PyLong_FromLong(n);
}

/* ------------------------------------------------------------------------
 * Subscriber
 * ------------------------------------------------------------------------ */

static int sub_drain(void *ep, struct zipc_msg *m, unsigned max, int64_t t)
{
    return zipc_subscriber_drain(ep, m, max, t);
}
static int sub_release_view(void *ep, const struct zipc_msg *m) { return zipc_subscriber_release_view(ep, m); }
static int sub_release_views(void *ep, const struct zipc_msg *m, unsigned n)
{
    return zipc_subscriber_release_views(ep, m, n);
}
static int sub_interrupt(void *ep) { return zipc_subscriber_interrupt(ep); }
static int sub_fd(void *ep) { return zipc_subscriber_fd(ep); }
static int sub_close(void *ep) { return zipc_subscriber_close(ep); }
static int sub_last_loss(const void *ep, uint64_t *messages, uint64_t *bytes)
{
    return zipc_subscriber_last_loss(ep, messages, bytes);
}

/* The C counters, plus the copies the binding dropped as torn (a loss the
 * C library did not see: the views were taken) and the views found
 * overwritten with nobody to tell. */
static PyObject *sub_stats(EndpointObject *self)
{
    static const char *const names[] = {"messages", "bytes", "lost_messages", "lost_bytes", "overflows",
                                        "lag", "wakeups", "sleeps", "stale_views"};
    struct zipc_subscriber_stats st;
    int rc = zipc_subscriber_get_stats(self->ep, &st);
    if (rc)
        return zp_raise(rc);
    const struct zp_loss *t = &self->torn;
    const uint64_t v[] = {st.messages - t->messages, st.bytes - t->bytes, st.lost_messages + t->messages,
                          st.lost_bytes + t->bytes, st.overflows + t->events, st.lag, st.wakeups, st.sleeps,
                          self->stale_unreported};
    return zp_counters(names, v, sizeof v / sizeof v[0]);
}

static const zp_ops sub_ops = {
    .drain = sub_drain, .release_view = sub_release_view, .release_views = sub_release_views,
    .interrupt = sub_interrupt, .fd = sub_fd, .close = sub_close, .stats = sub_stats,
    .last_loss = sub_last_loss,
};

/* A count >= min (an int), else ValueError. */
static int count_arg(PyObject *obj, unsigned long long min, const char *what, uint64_t *out)
{
    unsigned long long n = PyLong_Check(obj) ? PyLong_AsUnsignedLongLong(obj) : (unsigned long long)-1;
    if ((n == (unsigned long long)-1 && (PyErr_Occurred() || !PyLong_Check(obj))) || n < min) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s must be an int >= %llu", what, min);
        return -1;
    }
    *out = n;
    return 0;
}

/* policy="block" (also when NULL: not given) | "drop_oldest" | "max_lag"
 * (with max_lag=n >= 1). */
static int parse_policy(PyObject *policy, PyObject *max_lag, struct zipc_subscription *s)
{
    static const struct { const char *name; uint32_t policy; } policies[] = {
        {"block", ZIPC_SUB_BLOCK}, {"drop_oldest", ZIPC_SUB_DROP_OLDEST}, {"max_lag", ZIPC_SUB_MAX_LAG},
    };
    size_t i = 0;
    while (policy && i < 3 &&
           !(PyUnicode_Check(policy) && PyUnicode_CompareWithASCIIString(policy, policies[i].name) == 0))
        i++;
    if (i == 3) {
        PyErr_SetString(PyExc_ValueError, "policy must be 'block', 'drop_oldest' or 'max_lag'");
        return -1;
    }
    s->policy = policies[i].policy;
    if ((max_lag != Py_None) != (s->policy == ZIPC_SUB_MAX_LAG)) {
        PyErr_SetString(PyExc_ValueError, "max_lag=n goes with policy='max_lag', and only with it");
        return -1;
    }
    if (max_lag == Py_None)
        return 0;
    return count_arg(max_lag, 1, "max_lag", &s->max_lag);
}

/* resume="oldest" (after a loss, the oldest message still there) | "newest". */
static int parse_resume(PyObject *resume, struct zipc_subscription *s)
{
    if (PyUnicode_Check(resume) && PyUnicode_CompareWithASCIIString(resume, "newest") == 0)
        s->flags |= ZIPC_SUB_RESUME_NEWEST;
    else if (!(PyUnicode_Check(resume) && PyUnicode_CompareWithASCIIString(resume, "oldest") == 0)) {
        PyErr_SetString(PyExc_ValueError, "resume must be 'oldest' or 'newest'");
        return -1;
    }
    return 0;
}

struct subscribe_arg {
    zipc_subscriber *sub;
    const char *name;
    struct zipc_subscription s;
    struct zipc_options opts;
};

static int op_subscribe(void *arg, int64_t timeout_ns)
{
    struct subscribe_arg *a = arg;
    a->opts.timeout_ns = timeout_ns;
    return zipc_topic_subscribe(&a->sub, a->name, &a->s, &a->opts);
}

static PyObject *Subscriber_subscribe(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "policy", "max_lag", "history", "resume", "timeout", "any_uid",
                             "peer_uid", "max_segment", "spin", NULL};
    PyObject *path, *policy = NULL, *max_lag = Py_None, *history = NULL, *resume = NULL, *timeout = NULL,
                    *peer_uid = Py_None, *max_segment = Py_None, *spin = Py_None;
    int any_uid = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$OOOOOpOOO:subscribe", kwlist, PyUnicode_FSConverter, &path,
                                     &policy, &max_lag, &history, &resume, &timeout, &any_uid, &peer_uid,
                                     &max_segment, &spin))
        return NULL;
    struct subscribe_arg a = {.name = PyBytes_AS_STRING(path)};
    PyObject *res = NULL;
    int64_t tmo;
    if (parse_policy(policy, max_lag, &a.s) || (history && count_arg(history, 0, "history", &a.s.history)) ||
        (resume && parse_resume(resume, &a.s)) || !zp_open_timeout(timeout, &tmo) ||
        zp_parse_peer_uid(peer_uid, any_uid, &a.opts) || zp_parse_max_segment(max_segment, &a.opts.max_segment) ||
        zp_parse_spin(spin, &a.opts))
        goto out;
    int rc = zp_open_sliced(op_subscribe, &a, tmo);
    if (rc == ZP_PYERR)
        goto out;
    if (rc)
        zp_raise_path(rc, path);
    else
        res = zp_endpoint_new(type, a.sub, &sub_ops, ZIPC_ROLE_CONSUMER, zipc_subscriber_capacity(a.sub),
                              zipc_subscriber_max_message(a.sub), zipc_subscriber_publisher_pid(a.sub));
out:
    Py_DECREF(path);
    return res;
}

/* latest(type_id=None): a copy of the newest message (of that type) still
 * in the ring, or None; the cursor does not move. */
static PyObject *Subscriber_latest(EndpointObject *self, FASTCALL_ARGS)
{
    static const char *const names[] = {"type_id", NULL};
    PyObject *a[1];
    uint32_t type = ZIPC_TYPE_ANY;
    if (zp_args("latest", args, nargs, kwnames, names, 1, 0, a) ||
        (a[0] && a[0] != Py_None && !zp_type_id(a[0], &type)))
        return NULL;
    size_t cap = 256, size = 0;
    uint32_t type_out = 0;
    void *buf = NULL;
    int rc = -EMSGSIZE;
    if (zp_enter(self))
        return NULL;
    while (rc == -EMSGSIZE) { /* a newer, larger message may come between two tries */
        cap = size > cap ? size : 2 * cap;
        void *nbuf = PyMem_Realloc(buf, cap);
        if (!nbuf) {
            rc = ZP_PYERR;
            PyErr_NoMemory();
            break;
        }
        buf = nbuf;
        rc = zipc_subscriber_latest(self->ep, type, buf, cap, &size, &type_out);
    }
    zp_leave(self);
    PyObject *r = rc == 0 ? zp_message_new(type_out, buf, size)
                  : rc == -ENOENT ? Py_NewRef(Py_None) : zp_raise(rc);
    PyMem_Free(buf);
    return r;
}

/* What the last Overflow raised said (the C library's loss, or torn copies). */
static PyObject *Subscriber_get_last_loss(EndpointObject *self, void *Py_UNUSED(c))
{
    return Py_BuildValue("(KK)", (unsigned long long)self->last_loss.messages,
                         (unsigned long long)self->last_loss.bytes);
}

/* ------------------------------------------------------------------------
 * The types
 * ------------------------------------------------------------------------ */

static PyObject *refuse_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kw))
{
    PyErr_Format(PyExc_TypeError, "use zipc.Topic.create() or zipc.Topic.subscribe(), not %s()", type->tp_name);
    return NULL;
}

static PyMethodDef Publisher_methods[] = {
    {"create", WITH_KEYWORDS(Publisher_create), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "create(name, capacity=1<<20, max_subscribers=0, *, any_uid=False, peer_uid=None, socket_mode=0o600, "
     "label=None, spin=None)\n--\n\n"
     "Create the topic `name` (no '/': an abstract name; else a socket path) with a ring of `capacity` "
     "bytes and room for max_subscribers (0: 64) at once. Returns at once; subscribers come and go. "
     "zipc.Error (EADDRINUSE) while another publisher holds the name."},
    ZP_M_ENDPOINT("subscribers receive what was committed, then PeerGone; the name is free at once."),
    ZP_M_PRODUCER,
    {"subscribers", (PyCFunction)Publisher_subscribers, METH_NOARGS,
     "The number of subscribers attached now (alive, not evicted)."},
    {NULL},
};

static PyGetSetDef Publisher_getset[] = {
    ZP_GET_ENDPOINT,
    {NULL},
};

PyTypeObject ZpPublisher_Type = {
    ZP_ENDPOINT_TYPE("zipc._zipc.Publisher",
                     "The publisher of a zipc topic: writes each message once, for every subscriber."),
    .tp_methods = Publisher_methods,
    .tp_getset = Publisher_getset,
    .tp_new = refuse_new,
};

static PyMethodDef Subscriber_methods[] = {
    {"subscribe", WITH_KEYWORDS(Subscriber_subscribe), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "subscribe(name, *, policy='block', max_lag=None, history=0, resume='oldest', timeout=10.0, "
     "any_uid=False, peer_uid=None, max_segment=None, spin=None)\n--\n\n"
     "Attach to the topic `name`, waiting up to `timeout` for its publisher to exist. policy: "
     "'block' (lossless, the publisher waits for it), 'drop_oldest' (never holds the publisher "
     "back; a lap raises Overflow once with the exact loss) or 'max_lag' with max_lag=n (lossless "
     "up to n messages behind, then as drop_oldest). history: start with the last `history` "
     "messages still in the ring. resume: after a loss, go on from the 'oldest' message still "
     "there or the 'newest'. zipc.Error (ENOSPC) when the topic is full."},
    ZP_M_ENDPOINT("the publisher stops counting it (at once, or when its last view goes)."),
    ZP_M_CONSUMER,
    {"latest", WITH_KEYWORDS(Subscriber_latest), FASTCALL_KW,
     "latest(type_id=None)\n--\n\n"
     "A copy (Message) of the newest message still in the ring, of type `type_id` if given, or "
     "None; it does not consume anything (for state topics)."},
    {NULL},
};

static PyGetSetDef Subscriber_getset[] = {
    ZP_GET_ENDPOINT,
    {"publisher_pid", (getter)zp_ep_get_peer_pid, NULL, "The publisher's process id (0 if unknown).", NULL},
    {"last_loss", (getter)Subscriber_get_last_loss, NULL,
     "(messages, bytes) lost at the last Overflow ((0, 0) before any).", NULL},
    {NULL},
};

PyTypeObject ZpSubscriber_Type = {
    ZP_ENDPOINT_TYPE("zipc._zipc.Subscriber",
                     "A subscriber of a zipc topic: reads every message in place, at its own pace and policy."),
    .tp_iter = zp_ep_iter,
    .tp_iternext = (iternextfunc)zp_ep_iternext,
    .tp_methods = Subscriber_methods,
    .tp_getset = Subscriber_getset,
    .tp_new = refuse_new,
};
