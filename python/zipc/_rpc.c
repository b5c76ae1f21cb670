/* The rpc's endpoints (include/zipc/rpc.h): RpcClient and RpcWorker, and the
 * Request a worker takes. Both endpoints are endpoint objects (_zipc.h):
 * close, interrupt, fileno, the busy flag, pins and deferred give-backs are
 * the channel's, over the rpc's C calls through zp_ops.
 *
 * A reply is read in place as a View (_view.c), the channel's own type: its
 * zipc_msg carries the reply (data, size, type) and the call id (seq), and
 * giving the view back releases the reply (zipc_rpc_reply_release). A
 * Request is the worker's counterpart: it pins the worker until it is
 * answered; one dropped unanswered is answered -ECONNRESET on its way out
 * (as if its worker died: the caller never waits for nothing).
 *
 * This file holds the C calls only; the typed layer (objects, the request
 * envelope, asyncio) is python/zipc/_rpc.py. */
#include "_zipc.h"

#include <time.h>

#include "zipc/rpc.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Payload parts: a bytes-like object or a sequence of them, copied one after
 * the other (a tensor goes as its header and the array's own buffer: one
 * copy into the frame).
 * ------------------------------------------------------------------------ */

#define MAX_PARTS 8

struct parts {
    Py_buffer b[MAX_PARTS];
    int n;
    size_t size;
};

static void parts_release(struct parts *p)
{
    for (int i = 0; i < p->n; i++)
        PyBuffer_Release(&p->b[i]);
    p->n = 0;
}

static int parts_get(PyObject *obj, struct parts *p)
{
    p->n = 0;
    p->size = 0;
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, &p->b[0], PyBUF_SIMPLE))
            return -1;
        p->n = 1;
        p->size = (size_t)p->b[0].len;
        return 0;
    }
    PyObject *seq = PySequence_Fast(obj, "a payload is a bytes-like object or a sequence of them");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_PARTS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "a payload has at most %d parts", MAX_PARTS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, i), &p->b[p->n], PyBUF_SIMPLE)) {
            parts_release(p);
            Py_DECREF(seq);
            return -1;
        }
        p->size += (size_t)p->b[p->n++].len;
    }
    Py_DECREF(seq);
    return 0;
}

static void parts_copy(const struct parts *p, uint8_t *dst)
{
    for (int i = 0; i < p->n; i++) {
        zp_copy(dst, p->b[i].buf, (size_t)p->b[i].len);
        dst += p->b[i].len;
    }
}

/* An unsigned argument of at most `max`; raises ValueError naming it. */
static int parse_uint(PyObject *obj, const char *name, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = PyLong_Check(obj) ? PyLong_AsUnsignedLongLong(obj) : (unsigned long long)-1;
    if (PyErr_Occurred() || v > max) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s must be an int in 0..%llu", name, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------
 * Opening (both endpoints): the queue's options, less the role
 * ------------------------------------------------------------------------ */

struct rpc_open_arg {
    void *ep;
    const char *name;
    bool worker;
    struct zipc_rpc_config cfg;
    struct zipc_options opts;
};

static int op_open(void *arg, int64_t timeout_ns)
{
    struct rpc_open_arg *a = arg;
    a->opts.timeout_ns = timeout_ns;
    return a->worker ? zipc_rpc_serve((zipc_rpc_worker **)&a->ep, a->name, &a->cfg, &a->opts)
                     : zipc_rpc_connect((zipc_rpc_client **)&a->ep, a->name, &a->cfg, &a->opts);
}

static const zp_ops client_ops, worker_ops;

static PyObject *rpc_open(PyTypeObject *type, PyObject *args, PyObject *kw, bool worker)
{
    static char *kwlist[] = {"name", "lane_capacity", "timeout", "any_uid", "peer_uid", "max_segment", "label",
                             "spin", NULL};
    PyObject *path, *lane = Py_None, *timeout = NULL, *peer_uid = Py_None, *max_segment = Py_None, *spin = Py_None;
    int any_uid = 0;
    const char *label = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, worker ? "O&|$OOpOOzO:serve" : "O&|$OOpOOzO:connect", kwlist,
                                     PyUnicode_FSConverter, &path, &lane, &timeout, &any_uid, &peer_uid,
                                     &max_segment, &label, &spin))
        return NULL;
    struct rpc_open_arg a = {.name = PyBytes_AS_STRING(path), .worker = worker, .opts = {.label = label}};
    PyObject *res = NULL;
    int64_t tmo;
    if (zp_parse_lane(lane, &a.cfg.lane_capacity) || !zp_open_timeout(timeout, &tmo) ||
        zp_parse_peer_uid(peer_uid, any_uid, &a.opts) || zp_parse_max_segment(max_segment, &a.opts.max_segment) ||
        zp_parse_spin(spin, &a.opts))
        goto out;
    if (strchr(a.name, '/')) {
        PyErr_SetString(PyExc_ValueError, "an rpc service takes a name (no '/'): it leaves nothing on disk");
        goto out;
    }
    int rc = zp_open_sliced(op_open, &a, tmo);
    if (rc == ZP_PYERR)
        goto out;
    if (rc == -EPROTOTYPE)
        zp_raise_text(EPROTOTYPE, "that name is a zipc.Queue, not an rpc service");
    else if (rc)
        zp_raise_path(rc, path);
    else
        res = zp_endpoint_new(type, a.ep, worker ? &worker_ops : &client_ops,
                              worker ? ZIPC_ROLE_CONSUMER : ZIPC_ROLE_PRODUCER, a.cfg.lane_capacity, 0, 0);
out:
    Py_DECREF(path);
    return res;
}

/* ------------------------------------------------------------------------
 * Client
 * ------------------------------------------------------------------------ */

/* A reply as a View's message: the call id rides in seq, a streamed part's
 * number in end_ (0: the final reply), which its release must name. */
static struct zipc_msg msg_of_reply(const struct zipc_rpc_reply *r)
{
    uint64_t part = (r->flags & ZIPC_RPC_REPLY_MORE) ? r->part : 0;
    return (struct zipc_msg){.data = r->data, .size = r->size, .type = r->type, .seq = r->id, .end_ = part};
}

static int c_release_view(void *ep, const struct zipc_msg *m)
{
    struct zipc_rpc_reply r = {.id = m->seq, .data = m->data, .size = m->size, .type = m->type,
                               .flags = m->end_ ? ZIPC_RPC_REPLY_MORE : 0, .part = (uint32_t)m->end_};
    return zipc_rpc_reply_release(ep, &r);
}

static int c_release_views(void *ep, const struct zipc_msg *m, unsigned n)
{
    int first = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = c_release_view(ep, &m[i]);
        if (rc && !first)
            first = rc;
    }
    return first;
}

static int c_interrupt(void *ep) { return zipc_rpc_client_interrupt(ep); }
static int c_fd(void *ep) { return zipc_rpc_client_fd(ep); }
static int c_close(void *ep) { return zipc_rpc_client_close(ep); }

static PyObject *c_stats(EndpointObject *self)
{
    static const char *const names[] = {"in_flight"};
    const uint64_t v[] = {zipc_rpc_in_flight(self->ep)};
    return zp_counters(names, v, 1);
}

static const zp_ops client_ops = {
    .release_view = c_release_view, .release_views = c_release_views, .interrupt = c_interrupt,
    .fd = c_fd, .close = c_close, .stats = c_stats,
};

static PyObject *RpcClient_connect(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    return rpc_open(type, args, kw, false);
}

struct reserve_arg {
    size_t size, reply;
    void *buf;
};

static int op_reserve(EndpointObject *self, void *arg, int64_t timeout_ns)
{
    struct reserve_arg *a = arg;
    return zipc_rpc_reserve(self->ep, a->size, a->reply, &a->buf, timeout_ns);
}

/* _submit(payload, method, idempotent, reply_capacity, timeout, block) -> call id.
 * The call is due within `timeout` (None: no deadline) from now; block:
 * wait (within the same timeout) for room in the lane, else Timeout (EAGAIN)
 * at once when it is full. */
static PyObject *RpcClient_submit(EndpointObject *self, FASTCALL_ARGS)
{
    static const char *const names[] = {"payload", "method", "idempotent", "reply_capacity", "timeout", "block",
                                        NULL};
    PyObject *a[6];
    unsigned long long method, reply;
    int64_t tmo;
    if (zp_args("_submit", args, nargs, kwnames, names, 6, 6, a) ||
        parse_uint(a[1], "method", UINT32_MAX, &method) || parse_uint(a[3], "reply_capacity", UINT32_MAX, &reply) ||
        !zp_opt_timeout(a[4], &tmo))
        return NULL;
    unsigned flags = PyObject_IsTrue(a[2]) ? ZIPC_RPC_IDEMPOTENT : 0;
    int block = PyObject_IsTrue(a[5]);
    struct parts p;
    if (block < 0 || parts_get(a[0], &p))
        return NULL;
    if (zp_enter(self)) {
        parts_release(&p);
        return NULL;
    }
    int64_t t0 = mono_ns();
    struct reserve_arg r = {.size = p.size, .reply = (size_t)reply};
    uint64_t id = 0;
    int rc = zp_block(self, op_reserve, &r, block ? tmo : ZIPC_TRY);
    if (rc == 0) {
        parts_copy(&p, r.buf);
        int64_t left = tmo == ZIPC_FOREVER ? ZIPC_FOREVER : tmo - (mono_ns() - t0);
        /* Every argument is checked: commit fails only without memory, and
         * leaves its reservation open: drop it, or the next submit is EALREADY */
        rc = zipc_rpc_commit(self->ep, p.size, (uint32_t)method, flags, left == ZIPC_FOREVER || left > 0 ? left : 1,
                             &id);
        if (rc)
            (void)zipc_rpc_abort(self->ep);
    }
    zp_leave(self);
    parts_release(&p);
    if (rc == -EMSGSIZE) {
        char text[160];
        snprintf(text, sizeof text, "a request of %zu bytes with a reply_capacity of %llu does not fit a frame "
                 "of this service's lanes (%zu bytes each)", p.size, reply, self->capacity);
        return zp_raise_text(EMSGSIZE, text);
    }
    return rc ? zp_raise(rc) : PyLong_FromUnsignedLongLong(id);
}

struct wait_arg {
    uint64_t id;
    struct zipc_rpc_reply r;
};

static int op_wait(EndpointObject *self, void *arg, int64_t timeout_ns)
{
    struct wait_arg *a = arg;
    return zipc_rpc_wait(self->ep, a->id, &a->r, timeout_ns);
}

/* The reply's View, or None when it has no payload (the service's own
 * status: nothing to hold, released here). */
static PyObject *reply_view(EndpointObject *self, const struct zipc_rpc_reply *r)
{
    if (!r->data) {
        zipc_rpc_reply_release(self->ep, r);
        return Py_NewRef(Py_None);
    }
    struct zipc_msg m = msg_of_reply(r);
    PyObject *v = zp_room(self, 1) ? NULL : zp_view_new(self, &m);
    if (!v) { /* nobody will hold it */
        zipc_rpc_reply_release(self->ep, r);
        return NULL;
    }
    self->held++;
    return v;
}

/* _wait(id or None, timeout) -> (id, status, type_id, View or None, part):
 * part > 0 for a part of a streamed reply (the call goes on once its View is
 * released), 0 for the final reply. */
static PyObject *RpcClient_wait(EndpointObject *self, FASTCALL_ARGS)
{
    static const char *const names[] = {"id", "timeout", NULL};
    PyObject *a[2];
    unsigned long long id = ZIPC_RPC_ANY;
    int64_t tmo;
    if (zp_args("_wait", args, nargs, kwnames, names, 2, 1, a) || !zp_opt_timeout(a[1], &tmo) ||
        (a[0] != Py_None && parse_uint(a[0], "id", UINT64_MAX - 1, &id)) || zp_enter(self))
        return NULL;
    if (id == ZIPC_RPC_ANY && tmo != ZIPC_TRY && zipc_rpc_in_flight(self->ep) == 0) {
        zp_leave(self);
        return zp_raise_text(EINVAL, "no call in flight to wait for");
    }
    struct wait_arg w = {.id = id};
    int rc = zp_block(self, op_wait, &w, tmo);
    PyObject *view = rc == 0 ? reply_view(self, &w.r) : NULL;
    zp_leave(self);
    if (rc)
        return rc == -EINVAL ? zp_raise_text(EINVAL, "no such call in flight") : zp_raise(rc);
    if (!view)
        return NULL;
    return Py_BuildValue("(KiINI)", (unsigned long long)w.r.id, (int)w.r.status, (unsigned)w.r.type, view,
                         (unsigned)((w.r.flags & ZIPC_RPC_REPLY_MORE) ? w.r.part : 0));
}

/* _cancel(id): the call will not be answered; its reply (if one came and
 * was not handed out) is given back. */
static PyObject *RpcClient_cancel(EndpointObject *self, PyObject *arg)
{
    unsigned long long id;
    if (parse_uint(arg, "id", UINT64_MAX - 1, &id) || zp_enter(self))
        return NULL;
    int rc = zipc_rpc_cancel(self->ep, id);
    zp_leave(self);
    if (rc == -EINVAL)
        return zp_raise_text(EINVAL, "no such call in flight");
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

static PyObject *RpcClient_in_flight(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (zp_enter(self))
        return NULL;
    unsigned n = zipc_rpc_in_flight(self->ep);
    zp_leave(self);
    return PyLong_FromUnsignedLong(n);
}

static PyObject *refuse_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kw))
{
    PyErr_Format(PyExc_TypeError, "use zipc.RpcClient.connect(name) or zipc.RpcWorker.serve(name), not %s()",
                 type->tp_name);
    return NULL;
}

#define OPEN_OPTIONS "*, lane_capacity=None, timeout=10.0, any_uid=False, peer_uid=None, max_segment=None, " \
                     "label=None, spin=None"

static PyMethodDef RpcClient_methods[] = {
    {"connect", WITH_KEYWORDS(RpcClient_connect), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "connect(name, " OPEN_OPTIONS ")\n--\n\n"
     "Attach to the rpc service `name` (a name, no '/') as a client, creating it if nobody holds "
     "it. lane_capacity (ring bytes per client, default 1 MiB) is the creator's. zipc.Error "
     "(EPROTOTYPE) if the name is a queue, (ENOSPC) with 32 clients attached."},
    ZP_M_ENDPOINT("its calls in flight are cancelled."),
    {"_submit", WITH_KEYWORDS(RpcClient_submit), FASTCALL_KW,
     "_submit(payload, method, idempotent, reply_capacity, timeout, block) -> call id (zipc_rpc_reserve + "
     "commit); payload: a bytes-like object or a sequence of them."},
    {"_wait", WITH_KEYWORDS(RpcClient_wait), FASTCALL_KW,
     "_wait(id, timeout=None) -> (id, status, type_id, View or None): zipc_rpc_wait (id None: any call). "
     "Private: the View's release gives the reply back; cancel() must not name a call whose reply was handed out."},
    {"_cancel", (PyCFunction)RpcClient_cancel, METH_O, "_cancel(id): zipc_rpc_cancel."},
    {"in_flight", (PyCFunction)RpcClient_in_flight, METH_NOARGS,
     "Calls issued and not finished: unanswered, or answered and their reply not released yet."},
    {NULL},
};

static PyObject *get_lane(EndpointObject *self, void *Py_UNUSED(c)) { return PyLong_FromSize_t(self->capacity); }

static PyGetSetDef RpcClient_getset[] = {
    {"lane_capacity", (getter)get_lane, NULL,
     "The lane_capacity asked for when opening (0: the default); the creator's applies.", NULL},
    {"closed", (getter)zp_ep_get_closed, NULL, "True after close().", NULL},
    {NULL},
};

PyTypeObject ZpRpcClient_Type = {
    ZP_ENDPOINT_TYPE("zipc._zipc.RpcClient", "A client of a zipc rpc service."),
    .tp_methods = RpcClient_methods,
    .tp_getset = RpcClient_getset,
    .tp_new = refuse_new,
};

/* ------------------------------------------------------------------------
 * Worker
 * ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    EndpointObject *owner;
    struct zipc_rpc_request req;
    Py_ssize_t exports;  /* buffers of the request alive: no answer until they go */
    bool open;           /* taken, not answered */
    bool part_out;       /* a part was not released in time: only a reply without bytes may follow */
    PyObject *data;      /* the decoded request (zipc._rpc.request_object), once asked */
} RequestObject;

/* A request dropped unanswered goes through the worker's deferred
 * give-backs as a zipc_msg (_zipc.h): these two carry what respond reads. */
static struct zipc_msg msg_of_request(const struct zipc_rpc_request *r)
{
    return (struct zipc_msg){.data = r->data, .size = r->reply_capacity, .type = r->lane_, .seq = r->id,
                             .end_ = r->attempt};
}

static int w_release_view(void *ep, const struct zipc_msg *m)
{
    struct zipc_rpc_request r = {.id = m->seq, .data = m->data, .reply_capacity = m->size, .lane_ = m->type,
                                 .attempt = (uint32_t)m->end_};
    return zipc_rpc_respond(ep, &r, 0, 0, -ECONNRESET);
}

static int w_release_views(void *ep, const struct zipc_msg *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        w_release_view(ep, &m[i]);
    return 0;
}

static int w_interrupt(void *ep) { return zipc_rpc_worker_interrupt(ep); }
static int w_fd(void *ep) { return zipc_rpc_worker_fd(ep); }
static int w_close(void *ep) { return zipc_rpc_worker_close(ep); }

static PyObject *w_stats(EndpointObject *self)
{
    static const char *const names[] = {"held"};
    const uint64_t v[] = {(uint64_t)self->held};
    return zp_counters(names, v, 1);
}

static const zp_ops worker_ops = {
    .release_view = w_release_view, .release_views = w_release_views, .interrupt = w_interrupt,
    .fd = w_fd, .close = w_close, .stats = w_stats,
};

static PyObject *RpcWorker_serve(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    return rpc_open(type, args, kw, true);
}

static int op_next(EndpointObject *self, void *arg, int64_t timeout_ns)
{
    return zipc_rpc_next(self->ep, arg, timeout_ns);
}

static PyObject *request_new(EndpointObject *owner, const struct zipc_rpc_request *req)
{
    RequestObject *r = PyObject_New(RequestObject, &ZpRequest_Type);
    if (!r)
        return NULL;
    r->owner = (EndpointObject *)Py_NewRef(owner);
    r->req = *req;
    r->exports = 0;
    r->open = true;
    r->part_out = false;
    r->data = NULL;
    zp_pin(owner);
    owner->held++;
    return (PyObject *)r;
}

static PyObject *RpcWorker_next(EndpointObject *self, FASTCALL_ARGS)
{
    static const char *const names[] = {"timeout", NULL};
    PyObject *a[1];
    int64_t tmo;
    if (zp_args("next", args, nargs, kwnames, names, 1, 0, a) || !zp_opt_timeout(a[0], &tmo) || zp_enter(self))
        return NULL;
    PyObject *res = NULL;
    if (zp_room(self, 1) == 0) { /* before taking it: a Request dropped later may have to wait there */
        struct zipc_rpc_request req;
        int rc = zp_block(self, op_next, &req, tmo);
        if (rc)
            zp_raise(rc);
        else if (!(res = request_new(self, &req)))
            zipc_rpc_respond(self->ep, &req, 0, 0, -ENOMEM);
    }
    zp_leave(self);
    return res;
}

static RequestObject *request_arg(EndpointObject *self, PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &ZpRequest_Type)) {
        PyErr_Format(PyExc_TypeError, "respond() needs a zipc.Request, not %.100s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    RequestObject *r = (RequestObject *)obj;
    if (r->owner != self)
        PyErr_SetString(PyExc_ValueError, "this request was taken by another RpcWorker");
    else if (!r->open)
        PyErr_SetString(PyExc_ValueError, "this request was answered already");
    else if (r->exports)
        PyErr_SetString(PyExc_BufferError, "memoryviews or arrays over the request are still alive: drop them "
                                           "before responding (the frame goes back to the caller)");
    else
        return r;
    return NULL;
}

/* The payload for request r's reply room: 0, or an exception set (the
 * request stays open). */
static int reply_payload(RequestObject *r, PyObject *obj, struct parts *p)
{
    if (parts_get(obj, p))
        return -1;
    if (p->size <= r->req.reply_capacity)
        return 0;
    char text[160];
    snprintf(text, sizeof text, "a reply of %zu bytes exceeds the call's reply_capacity (%u bytes)", p->size,
             r->req.reply_capacity);
    parts_release(p);
    zp_raise_text(EMSGSIZE, text);
    return -1;
}

/* Inside zp_enter: the reply room of r may take n bytes (a part sent and
 * not released yet is still read there); else EBUSY raised, left. */
static int room_free(EndpointObject *self, RequestObject *r, struct parts *p)
{
    if (!r->part_out || !p->size || zipc_rpc_part_wait(self->ep, &r->req, 0) == 0) {
        r->part_out = false;
        return 0;
    }
    zp_leave(self);
    parts_release(p);
    zp_raise_text(EBUSY, "the caller has not released the last part of this reply: wait, or end the call "
                         "with a reply without bytes (status only)");
    return -1;
}

/* respond and respond_part: the request, its reply's bytes copied into the
 * caller's frame, inside zp_enter (the caller leaves, then releases p).
 * NULL with an exception set: the request stays open. */
static RequestObject *enter_with_reply(EndpointObject *self, PyObject *request, PyObject *payload,
                                       struct parts *p)
{
    RequestObject *r = request_arg(self, request);
    if (!r || reply_payload(r, payload, p))
        return NULL;
    if (zp_enter(self)) {
        parts_release(p);
        return NULL;
    }
    if (room_free(self, r, p))
        return NULL;
    parts_copy(p, r->req.reply);
    return r;
}

/* _respond(request, payload, type_id, status): the reply written in the
 * caller's frame. A reply over the call's reply_capacity raises
 * InvalidArgument (EMSGSIZE) and leaves the request open (answer it again). */
static PyObject *RpcWorker_respond(EndpointObject *self, FASTCALL_ARGS)
{
    static const char *const names[] = {"request", "payload", "type_id", "status", NULL};
    PyObject *a[4];
    uint32_t type = 0;
    if (zp_args("_respond", args, nargs, kwnames, names, 4, 4, a) || !zp_type_id(a[2], &type))
        return NULL;
    long status = PyLong_Check(a[3]) ? PyLong_AsLong(a[3]) : 1;
    if (PyErr_Occurred() || status > 0 || status < INT32_MIN) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "status must be 0 or a negative errno (an int)");
        return NULL;
    }
    struct parts p;
    RequestObject *r = enter_with_reply(self, a[0], a[1], &p);
    if (!r)
        return NULL;
    int rc = zipc_rpc_respond(self->ep, &r->req, p.size, type, (int32_t)status);
    if (rc != -EBUSY) { /* EBUSY: a part is still read; the request stays open */
        r->open = false;
        self->held--;
    }
    zp_leave(self);
    parts_release(&p);
    if (rc != -EBUSY)
        zp_unpin(self, NULL);
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

struct part_arg {
    RequestObject *r;
    size_t size;
    uint32_t type;
    bool sent;
};

/* zp_block calls it again and again (a try, then slices): the part goes
 * once, the later calls wait for its release. */
static int op_respond_part(EndpointObject *self, void *arg, int64_t timeout_ns)
{
    struct part_arg *a = arg;
    if (a->sent)
        return zipc_rpc_part_wait(self->ep, &a->r->req, timeout_ns);
    a->sent = true;
    return zipc_rpc_respond_part(self->ep, &a->r->req, a->size, a->type, timeout_ns);
}

/* _respond_part(request, payload, type_id, timeout): one part of a streamed
 * reply; returns once the caller released it. The request stays open. */
static PyObject *RpcWorker_respond_part(EndpointObject *self, FASTCALL_ARGS)
{
    static const char *const names[] = {"request", "payload", "type_id", "timeout", NULL};
    PyObject *a[4];
    uint32_t type = 0;
    int64_t tmo;
    if (zp_args("_respond_part", args, nargs, kwnames, names, 4, 4, a) || !zp_type_id(a[2], &type) ||
        !zp_opt_timeout(a[3], &tmo))
        return NULL;
    struct parts p;
    RequestObject *r = enter_with_reply(self, a[0], a[1], &p);
    if (!r)
        return NULL;
    struct part_arg pa = {.r = r, .size = p.size, .type = type};
    int rc = zp_block(self, op_respond_part, &pa, tmo);
    r->part_out = rc != 0 && pa.sent; /* maybe still read: the room is not ours until released */
    zp_leave(self);
    parts_release(&p);
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

static PyMethodDef RpcWorker_methods[] = {
    {"serve", WITH_KEYWORDS(RpcWorker_serve), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "serve(name, " OPEN_OPTIONS ")\n--\n\n"
     "Attach to the rpc service `name` (a name, no '/') as a worker, creating it if nobody holds "
     "it. zipc.Error (EPROTOTYPE) if the name is a queue, (ENOSPC) with 32 workers attached."},
    ZP_M_ENDPOINT("the requests it holds go to another worker (or fail with ConnectionReset)."),
    {"next", WITH_KEYWORDS(RpcWorker_next), FASTCALL_KW,
     "next(timeout=None)\n--\n\n"
     "Take the next request: a Request, to answer with respond(). Calls cancelled, past their "
     "deadline or of dead clients are never handed out. Timeout when none came in time."},
    {"_respond", WITH_KEYWORDS(RpcWorker_respond), FASTCALL_KW,
     "_respond(request, payload, type_id, status): zipc_rpc_respond, the payload copied into the reply room."},
    {"_respond_part", WITH_KEYWORDS(RpcWorker_respond_part), FASTCALL_KW,
     "_respond_part(request, payload, type_id, timeout): zipc_rpc_respond_part (blocks until the caller "
     "released the part)."},
    {NULL},
};

static PyGetSetDef RpcWorker_getset[] = {
    {"lane_capacity", (getter)get_lane, NULL,
     "The lane_capacity asked for when opening (0: the default); the creator's applies.", NULL},
    {"closed", (getter)zp_ep_get_closed, NULL, "True after close().", NULL},
    {NULL},
};

PyTypeObject ZpRpcWorker_Type = {
    ZP_ENDPOINT_TYPE("zipc._zipc.RpcWorker", "A worker of a zipc rpc service."),
    .tp_methods = RpcWorker_methods,
    .tp_getset = RpcWorker_getset,
    .tp_new = refuse_new,
};

/* ------------------------------------------------------------------------
 * Request
 * ------------------------------------------------------------------------ */

static void Request_dealloc(RequestObject *r)
{
    Py_XDECREF(r->data);
    if (r->open) { /* unanswered: the caller learns (ConnectionReset) */
        struct zipc_msg m = msg_of_request(&r->req);
        r->open = false;
        zp_unpin(r->owner, &m);
    }
    Py_DECREF(r->owner);
    PyObject_Free(r);
}

static int request_check(RequestObject *r)
{
    if (r->open)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the request was answered: its frame went back to the caller");
    return -1;
}

static int Request_getbuffer(RequestObject *r, Py_buffer *view, int flags)
{
    if (request_check(r))
        return -1;
    if (PyBuffer_FillInfo(view, (PyObject *)r, (void *)r->req.data, r->req.size, 1, flags))
        return -1;
    r->exports++;
    return 0;
}

static void Request_releasebuffer(RequestObject *r, Py_buffer *Py_UNUSED(view)) { r->exports--; }

static PyBufferProcs Request_as_buffer = {
    .bf_getbuffer = (getbufferproc)Request_getbuffer,
    .bf_releasebuffer = (releasebufferproc)Request_releasebuffer,
};

/* An exporter of the request's bytes that counts as one export for as long
 * as it lives: NumPy keeps its buffer's exporter as an array's base (not an
 * export), so arrays in place are made over one of these and the request
 * sees them alive (respond() refuses until they are gone). */
typedef struct {
    PyObject_HEAD
    RequestObject *req;
} ReqBufObject;

static void ReqBuf_dealloc(ReqBufObject *b)
{
    b->req->exports--;
    Py_DECREF(b->req);
    PyObject_Free(b);
}

static int ReqBuf_getbuffer(ReqBufObject *b, Py_buffer *view, int flags)
{
    if (request_check(b->req))
        return -1;
    return PyBuffer_FillInfo(view, (PyObject *)b, (void *)b->req->req.data, b->req->req.size, 1, flags);
}

static PyBufferProcs ReqBuf_as_buffer = {.bf_getbuffer = (getbufferproc)ReqBuf_getbuffer};

static PyTypeObject ReqBuf_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc._zipc.RequestBuffer",
    .tp_basicsize = sizeof(ReqBufObject),
    .tp_dealloc = (destructor)ReqBuf_dealloc,
    .tp_as_buffer = &ReqBuf_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The bytes of a Request, held in place (Request.object(copy=False)).",
};

static PyObject *Request_buffer(RequestObject *r, PyObject *Py_UNUSED(ignored))
{
    if (request_check(r) || PyType_Ready(&ReqBuf_Type) < 0)
        return NULL;
    ReqBufObject *b = PyObject_New(ReqBufObject, &ReqBuf_Type);
    if (!b)
        return NULL;
    b->req = (RequestObject *)Py_NewRef(r);
    r->exports++;
    return (PyObject *)b;
}

/* zipc._rpc.request_object(request, copy): the typed layer decodes. */
static PyObject *request_object(RequestObject *r, bool copy)
{
    if (request_check(r))
        return NULL;
    PyObject *m = PyImport_ImportModule("zipc._rpc");
    PyObject *res = m ? PyObject_CallMethod(m, "request_object", "OO", r, copy ? Py_True : Py_False) : NULL;
    Py_XDECREF(m);
    return res;
}

static PyObject *Request_get_data(RequestObject *r, void *Py_UNUSED(c))
{
    if (!r->data)
        r->data = request_object(r, true);
    return Py_XNewRef(r->data);
}

static PyObject *Request_object(RequestObject *r, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"copy", NULL};
    PyObject *a[1];
    if (zp_args("object", args, nargs, kwnames, names, 1, 0, a))
        return NULL;
    int copy = a[0] ? PyObject_IsTrue(a[0]) : 1;
    return copy < 0 ? NULL : request_object(r, copy);
}

static PyObject *Request_tobytes(RequestObject *r, PyObject *Py_UNUSED(ignored))
{
    return request_check(r) ? NULL : PyBytes_FromStringAndSize(r->req.data, r->req.size);
}

static PyObject *Request_cancelled(RequestObject *r, PyObject *Py_UNUSED(ignored))
{
    if (request_check(r) || zp_enter(r->owner))
        return NULL;
    int rc = zipc_rpc_cancelled(r->owner->ep, &r->req);
    zp_leave(r->owner);
    return rc < 0 ? zp_raise(rc) : PyBool_FromLong(rc);
}

static PyObject *Request_get_id(RequestObject *r, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLongLong(r->req.id); }
static PyObject *Request_get_method(RequestObject *r, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLong(r->req.method); }
static PyObject *Request_get_attempt(RequestObject *r, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLong(r->req.attempt); }
static PyObject *Request_get_size(RequestObject *r, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLong(r->req.size); }
static PyObject *Request_get_answered(RequestObject *r, void *Py_UNUSED(c)) { return PyBool_FromLong(!r->open); }

static PyObject *Request_get_reply_capacity(RequestObject *r, void *Py_UNUSED(c))
{
    return PyLong_FromUnsignedLong(r->req.reply_capacity);
}

static PyObject *Request_get_idempotent(RequestObject *r, void *Py_UNUSED(c))
{
    return PyBool_FromLong(r->req.flags & ZIPC_RPC_IDEMPOTENT);
}

/* CLOCK_MONOTONIC seconds: time.monotonic()'s clock on Linux. */
static PyObject *Request_get_deadline(RequestObject *r, void *Py_UNUSED(c))
{
    if (r->req.deadline_ns == INT64_MAX)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)r->req.deadline_ns / 1e9);
}

static Py_ssize_t Request_len(RequestObject *r) { return r->req.size; }

static PyObject *Request_repr(RequestObject *r)
{
    return PyUnicode_FromFormat("<zipc.Request id=%llu method=%u attempt=%u size=%u%s>",
                                (unsigned long long)r->req.id, r->req.method, r->req.attempt, r->req.size,
                                r->open ? "" : " answered");
}

static PyMethodDef Request_methods[] = {
    {"object", (PyCFunction)(void (*)(void))Request_object, FASTCALL_KW,
     "object(copy=True)\n--\n\n"
     "The request's object (a typed request, as RpcClient.call sends). copy=False: an array comes "
     "as a read-only ndarray over the caller's frame and bytes as a memoryview; drop them before "
     "respond() (BufferError otherwise)."},
    {"tobytes", (PyCFunction)Request_tobytes, METH_NOARGS, "A copy of the request's bytes as they came."},
    {"_buffer", (PyCFunction)Request_buffer, METH_NOARGS,
     "_buffer(): an exporter of the request's bytes that holds the request (no respond()) while it lives."},
    {"cancelled", (PyCFunction)Request_cancelled, METH_NOARGS,
     "True if the caller cancelled the call or its deadline passed: the answer would be dropped."},
    {NULL},
};

static PyGetSetDef Request_getset[] = {
    {"id", (getter)Request_get_id, NULL, "The call id (the caller's, as its submit() returned).", NULL},
    {"method", (getter)Request_get_method, NULL, "The method number the caller asked for.", NULL},
    {"attempt", (getter)Request_get_attempt, NULL, "1, or 2 for an idempotent call run again.", NULL},
    {"idempotent", (getter)Request_get_idempotent, NULL, "True if the caller said it may run twice.", NULL},
    {"deadline", (getter)Request_get_deadline, NULL,
     "The call's deadline in time.monotonic() seconds, or None.", NULL},
    {"size", (getter)Request_get_size, NULL, "The request's size in bytes.", NULL},
    {"reply_capacity", (getter)Request_get_reply_capacity, NULL, "The most reply bytes the caller made room for.", NULL},
    {"answered", (getter)Request_get_answered, NULL, "True once respond() ran.", NULL},
    {"data", (getter)Request_get_data, NULL, "The request's object (object(copy=True), decoded once).", NULL},
    {NULL},
};

static PySequenceMethods Request_as_sequence = {.sq_length = (lenfunc)Request_len};

PyTypeObject ZpRequest_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc.Request",
    .tp_basicsize = sizeof(RequestObject),
    .tp_dealloc = (destructor)Request_dealloc,
    .tp_repr = (reprfunc)Request_repr,
    .tp_as_sequence = &Request_as_sequence,
    .tp_as_buffer = &Request_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A call taken by an RpcWorker: read-only buffer of the request in place, until respond().",
    .tp_methods = Request_methods,
    .tp_getset = Request_getset,
};
