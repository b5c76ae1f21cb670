/* The queue's endpoint (include/zipc/queue.h): Queue, a producer or a
 * consumer of a queue of many producers and many consumers. It is an
 * endpoint object (_zipc.h): every method it shares with the channel
 * (send, send_many, reserve, flush, tensors, recv, view, drain, close,
 * interrupt, fileno, ...) is the channel's, running the queue's C calls
 * through queue_ops. This file holds what only a queue has: open (role,
 * lane capacity, at-most-once), the slot, the member counts, the counters
 * and the delivery of a view (producer lane, attempt). */
#include "_zipc.h"

#include "zipc/queue.h"

static int q_reserve(void *ep, size_t n, void **buf, int64_t t) { return zipc_queue_reserve(ep, n, buf, t); }
static int q_commit(void *ep, size_t n, uint32_t type, unsigned flags) { return zipc_queue_commit(ep, n, type, flags); }
static int q_abort(void *ep) { return zipc_queue_abort(ep); }
static int q_flush(void *ep) { return zipc_queue_flush(ep); }
static int q_drain(void *ep, struct zipc_msg *m, unsigned max, int64_t t) { return zipc_queue_drain(ep, m, max, t); }
static int q_release_view(void *ep, const struct zipc_msg *m) { return zipc_queue_release_view(ep, m); }
static int q_interrupt(void *ep) { return zipc_queue_interrupt(ep); }
static int q_fd(void *ep) { return zipc_queue_fd(ep); }
/* A producer alone with queued messages lingers for a consumer (queue.h):
 * without the GIL, and a signal (Ctrl-C) ends the wait. */
static int q_close(void *ep)
{
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = zipc_queue_close(ep);
    Py_END_ALLOW_THREADS
    return r;
}

/* Views are given back one by one: a queue's are released in any order. */
static int q_release_views(void *ep, const struct zipc_msg *m, unsigned n)
{
    int first = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = zipc_queue_release_view(ep, &m[i]);
        if (rc && !first)
            first = rc;
    }
    return first;
}

static void q_delivery(const struct zipc_msg *m, unsigned *producer, unsigned *attempt)
{
    *producer = zipc_queue_msg_producer(m);
    *attempt = zipc_queue_msg_attempt(m);
}

static PyObject *q_stats(EndpointObject *self)
{
    static const char *const names[] = {"messages", "bytes", "redelivered", "wakeups", "sleeps", "reclaimed"};
    struct zipc_queue_stats st;
    int rc = zipc_queue_get_stats(self->ep, &st);
    if (rc)
        return zp_raise(rc);
    const uint64_t v[] = {st.messages, st.bytes, st.redelivered, st.wakeups, st.sleeps, st.reclaimed};
    return zp_counters(names, v, sizeof v / sizeof v[0]);
}

static const zp_ops queue_ops = {
    .reserve = q_reserve, .commit = q_commit, .abort = q_abort, .flush = q_flush,
    .drain = q_drain, .release_view = q_release_view, .release_views = q_release_views,
    .interrupt = q_interrupt, .fd = q_fd, .close = q_close, .stats = q_stats,
    .delivery = q_delivery,
};

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

/* role="producer" | "consumer": a queue member has no default role. */
static int parse_queue_role(PyObject *role, int *out)
{
    if (PyUnicode_Check(role) && PyUnicode_CompareWithASCIIString(role, "producer") == 0)
        *out = ZIPC_ROLE_PRODUCER;
    else if (PyUnicode_Check(role) && PyUnicode_CompareWithASCIIString(role, "consumer") == 0)
        *out = ZIPC_ROLE_CONSUMER;
    else {
        PyErr_SetString(PyExc_ValueError, "role must be 'producer' or 'consumer'");
        return -1;
    }
    return 0;
}

/* The C config's 0 is the default lane. */
int zp_parse_lane(PyObject *obj, uint64_t *out)
{
    if (obj == Py_None)
        return 0;
    unsigned long long v = PyLong_Check(obj) ? PyLong_AsUnsignedLongLong(obj) : 1;
    if (PyErr_Occurred() || (v && v < ZIPC_MIN_CAPACITY) || v > ZIPC_QUEUE_MAX_LANE) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError,
                     "lane_capacity must be None, 0 (the default, 1 MiB) or an int in %d..%llu bytes",
                     ZIPC_MIN_CAPACITY, (unsigned long long)ZIPC_QUEUE_MAX_LANE);
        return -1;
    }
    *out = v;
    return 0;
}

struct queue_open_arg {
    zipc_queue *q;
    const char *name;
    int role;
    struct zipc_queue_config cfg;
    struct zipc_options opts;
};

static int op_open(void *arg, int64_t timeout_ns)
{
    struct queue_open_arg *a = arg;
    a->opts.timeout_ns = timeout_ns;
    return zipc_queue_open(&a->q, a->name, a->role, &a->cfg, &a->opts);
}

/* A failed open leaves nothing behind, so it runs in slices (signals are
 * checked between them: Ctrl-C interrupts an open waiting for a creator). */
static PyObject *Queue_open(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "role", "lane_capacity", "at_most_once", "timeout", "any_uid",
                             "peer_uid", "max_segment", "label", "spin", NULL};
    PyObject *path, *role, *lane = Py_None, *timeout = NULL, *peer_uid = Py_None, *max_segment = Py_None,
                          *spin = Py_None;
    int at_most_once = 0, any_uid = 0;
    const char *label = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O|$OpOpOOzO:open", kwlist, PyUnicode_FSConverter, &path, &role,
                                     &lane, &at_most_once, &timeout, &any_uid, &peer_uid, &max_segment, &label,
                                     &spin))
        return NULL;
    struct queue_open_arg a = {.name = PyBytes_AS_STRING(path), .opts = {.label = label}};
    PyObject *res = NULL;
    int64_t tmo;
    if (parse_queue_role(role, &a.role) || zp_parse_lane(lane, &a.cfg.lane_capacity) || !zp_open_timeout(timeout, &tmo) ||
        zp_parse_peer_uid(peer_uid, any_uid, &a.opts) || zp_parse_max_segment(max_segment, &a.opts.max_segment) ||
        zp_parse_spin(spin, &a.opts))
        goto out;
    if (strchr(a.name, '/')) {
        PyErr_SetString(PyExc_ValueError, "a queue takes a name (no '/'): it leaves nothing on disk");
        goto out;
    }
    if (at_most_once)
        a.cfg.flags |= ZIPC_QUEUE_AT_MOST_ONCE;
    int rc = zp_open_sliced(op_open, &a, tmo);
    if (rc == ZP_PYERR)
        goto out;
    if (rc)
        zp_raise_path(rc, path);
    else
        res = zp_endpoint_new(type, a.q, &queue_ops, a.role, zipc_queue_capacity(a.q), zipc_queue_max_message(a.q), 0);
    if (res)
        ((EndpointObject *)res)->linger_ns = tmo;
out:
    Py_DECREF(path);
    return res;
}

/* ------------------------------------------------------------------------
 * What only a queue has
 * ------------------------------------------------------------------------ */

/* An int query on the C endpoint, under the busy flag (it may be closed). */
static PyObject *queue_int(EndpointObject *self, int (*get)(const zipc_queue *q))
{
    if (zp_enter(self))
        return NULL;
    int n = get(self->ep);
    zp_leave(self);
    return n < 0 ? zp_raise(n) : PyLong_FromLong(n);
}

static int linger_op(EndpointObject *self, void *Py_UNUSED(arg), int64_t timeout_ns)
{
    return zipc_queue_linger(self->ep, timeout_ns);
}

static PyObject *Queue_linger(EndpointObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:linger", kwlist, &timeout))
        return NULL;
    int64_t t = self->linger_ns;
    if (timeout && !zp_opt_timeout(timeout, &t))
        return NULL;
    if (zp_enter(self))
        return NULL;
    int rc = zp_block(self, linger_op, NULL, t);
    zp_leave(self);
    if (rc == ZP_PYERR)
        return NULL;
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

static PyObject *Queue_producers(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    return queue_int(self, zipc_queue_producers);
}

static PyObject *Queue_consumers(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    return queue_int(self, zipc_queue_consumers);
}

static PyObject *Queue_get_slot(EndpointObject *self, void *Py_UNUSED(c))
{
    return queue_int(self, zipc_queue_slot);
}

static int flags_of(const zipc_queue *q) { return (int)zipc_queue_flags(q); }

static PyObject *Queue_get_at_most_once(EndpointObject *self, void *Py_UNUSED(c))
{
    PyObject *flags = queue_int(self, flags_of);
    if (!flags)
        return NULL;
    long f = PyLong_AsLong(flags);
    Py_DECREF(flags);
    return PyBool_FromLong(f & ZIPC_QUEUE_AT_MOST_ONCE);
}

static PyObject *Queue_get_role(EndpointObject *self, void *Py_UNUSED(c))
{
    return PyUnicode_FromString(self->role == ZIPC_ROLE_PRODUCER ? "producer" : "consumer");
}

/* ------------------------------------------------------------------------
 * The type
 * ------------------------------------------------------------------------ */

static PyObject *refuse_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kw))
{
    PyErr_Format(PyExc_TypeError, "use zipc.Queue.open(name, role), not %s()", type->tp_name);
    return NULL;
}

static PyMethodDef Queue_methods[] = {
    {"open", WITH_KEYWORDS(Queue_open), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "open(name, role, *, lane_capacity=None, at_most_once=False, timeout=10.0, any_uid=False, "
     "peer_uid=None, max_segment=None, label=None, spin=None)\n--\n\n"
     "Join the queue `name` (a name, no '/') as a 'producer' or a 'consumer', creating it if no "
     "member holds it. lane_capacity (ring bytes per producer, default 1 MiB) and at_most_once "
     "(drop what a dying consumer held instead of delivering it again) are the creator's; a "
     "member that attaches gets them. zipc.Error (ENOSPC) when the role is full (32 each)."},
    ZP_M_ENDPOINT("a producer publishes what it staged; a consumer gives back its views."),
    ZP_M_PRODUCER,
    ZP_M_CONSUMER,
    {"linger", WITH_KEYWORDS(Queue_linger), METH_VARARGS | METH_KEYWORDS,
     "linger(timeout=<the open's>)\n--\n\n"
     "Producer: wait until leaving loses nothing - another member holds the queue (a consumer that "
     "was late joined) or every message was taken. close() does this first: the queue lives only "
     "while it has members. Timeout if nobody came; a consumer returns at once."},
    {"_take_object", WITH_KEYWORDS(zp_ep_take_object), METH_FASTCALL | METH_KEYWORDS,
     "_take_object(timeout, copy)\n--\n\nget()'s C part: a tensor as an array, bytes as a copy "
     "(copy=True), any other message as its View."},
    {"producers", (PyCFunction)Queue_producers, METH_NOARGS, "The number of producers attached now."},
    {"consumers", (PyCFunction)Queue_consumers, METH_NOARGS, "The number of consumers attached now."},
    {NULL},
};

static PyGetSetDef Queue_getset[] = {
    ZP_GET_ENDPOINT,
    {"role", (getter)Queue_get_role, NULL, "'producer' or 'consumer'.", NULL},
    {"slot", (getter)Queue_get_slot, NULL,
     "This member's slot: a producer's lane (what View.producer names) or a consumer's number.", NULL},
    {"at_most_once", (getter)Queue_get_at_most_once, NULL,
     "True if the queue drops what a dying consumer held (the creator's choice).", NULL},
    {NULL},
};

PyTypeObject ZpQueue_Type = {
    ZP_ENDPOINT_TYPE("zipc._zipc.Queue",
                     "A member of a zipc queue: many producers, many consumers, each message taken once."),
    .tp_iter = zp_ep_iter,
    .tp_iternext = (iternextfunc)zp_ep_iternext,
    .tp_methods = Queue_methods,
    .tp_getset = Queue_getset,
    .tp_new = refuse_new,
};
