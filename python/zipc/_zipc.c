/* zipc._zipc: the Channel type, error mapping and the blocking-call helper.
 * Views, batches and DLPack live in _view.c; reservations and tensor helpers
 * in _reserve.c. See _zipc.h for the lifetime rules. */
#include "_zipc.h"

#include <structmember.h>
#include <time.h>

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

static PyObject *ZpErr_Base, *ZpErr_Timeout, *ZpErr_PeerGone, *ZpErr_Abi, *ZpErr_Invalid,
    *ZpErr_Permission;
PyObject *ZpErr_Corrupted;

static PyObject *error_class(int e)
{
    switch (e) {
    case EAGAIN:
    case ETIMEDOUT:
        return ZpErr_Timeout;
    case EPIPE:
        return ZpErr_PeerGone;
    case EPROTO:
        return ZpErr_Abi;
    case EBADMSG:
        return ZpErr_Corrupted;
    case EMSGSIZE:
    case EINVAL:
    case EOPNOTSUPP:
        return ZpErr_Invalid;
    case EPERM:
    case EACCES:
        return ZpErr_Permission;
    default:
        return ZpErr_Base;
    }
}

/* The one place a zipc errno becomes a Python exception; fspath: bytes or NULL. */
static PyObject *raise_errno(int err, PyObject *fspath)
{
    int e = err < 0 ? -err : err;
    PyObject *cls = error_class(e);
    PyObject *name = fspath ? PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(fspath)) : NULL;
    PyObject *exc = name ? PyObject_CallFunction(cls, "isO", e, zipc_strerror(e), name)
                         : PyObject_CallFunction(cls, "is", e, zipc_strerror(e));
    Py_XDECREF(name);
    if (exc) {
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* An errno-carrying zipc error with our own text. */
static PyObject *raise_msg(int e, const char *text)
{
    PyObject *cls = error_class(e);
    PyObject *exc = PyObject_CallFunction(cls, "is", e, text);
    if (exc) {
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyObject *zp_raise(int err)
{
    if (err == ZP_PYERR)
        return NULL; /* already set (a signal handler raised) */
    return raise_errno(err, NULL);
}

/* ------------------------------------------------------------------------
 * Argument helpers
 * ------------------------------------------------------------------------ */

#define NS_PER_S 1000000000LL
#define SLICE_NS (200 * 1000000LL) /* longest wait without checking signals */

int zp_timeout(PyObject *obj, int64_t *ns)
{
    if (obj == Py_None) {
        *ns = ZIPC_FOREVER;
        return 1;
    }
    double s = PyFloat_AsDouble(obj);
    if (s == -1.0 && PyErr_Occurred())
        return 0;
    if (!(s >= 0)) { /* also rejects NaN */
        PyErr_SetString(PyExc_ValueError, "timeout must be None or a number of seconds >= 0");
        return 0;
    }
    *ns = s >= 9e9 ? ZIPC_FOREVER : (int64_t)(s * 1e9);
    if (s > 0 && *ns == 0)
        *ns = 1; /* a tiny positive timeout still waits, unlike ZIPC_TRY */
    return 1;
}

int zp_type_id(PyObject *obj, void *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "type_id must be an int, not %.100s", Py_TYPE(obj)->tp_name);
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(obj);
    if ((v == (unsigned long long)-1 && PyErr_Occurred()) || v > UINT32_MAX) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "type_id must be in 0..0xFFFFFFFF");
        return 0;
    }
    *(uint32_t *)out = (uint32_t)v;
    return 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Busy flag, pins, deferred work
 * ------------------------------------------------------------------------ */

bool zp_try_busy(ChannelObject *self)
{
    return __atomic_exchange_n(&self->busy, 1, __ATOMIC_ACQUIRE) == 0;
}

void zp_leave(ChannelObject *self) { __atomic_store_n(&self->busy, 0, __ATOMIC_RELEASE); }

/* ------------------------------------------------------------------------
 * The ledger (consumer): viewed messages not yet given back, in seq order.
 * Touched only under the GIL; the C calls it leads to run with busy held.
 * ------------------------------------------------------------------------ */

static struct zp_open *ledger_at(ChannelObject *self, uint64_t seq)
{
    return &self->ledger[seq & self->ledger_mask];
}

/* Room for n more entries; raises MemoryError. */
static int ledger_reserve(ChannelObject *self, uint64_t n)
{
    uint64_t used = self->open_next - self->open_first;
    uint64_t cap = self->ledger ? self->ledger_mask + 1 : 0, ncap = cap ? cap : 64;
    if (used + n <= cap)
        return 0;
    while (ncap < used + n)
        ncap *= 2;
    struct zp_open *l = PyMem_Malloc(ncap * sizeof *l);
    if (!l) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint64_t s = self->open_first; s != self->open_next; s++)
        l[s & (ncap - 1)] = *ledger_at(self, s);
    PyMem_Free(self->ledger);
    self->ledger = l;
    self->ledger_mask = ncap - 1;
    return 0;
}

/* Enter freshly viewed messages (room reserved; seqs follow on). */
static void ledger_add(ChannelObject *self, const struct zipc_msg *m, int n)
{
    if (n > 0 && self->open_first == self->open_next)
        self->open_first = self->open_next = m[0].seq;
    for (int i = 0; i < n; i++)
        *ledger_at(self, self->open_next++) = (struct zp_open){m[i].end_, false};
}

void zp_finish(ChannelObject *self, uint64_t seq) { ledger_at(self, seq)->done = true; }

/* Give back the longest finished prefix. Runs with busy held. */
static void release_finished(ChannelObject *self)
{
    uint64_t s = self->open_first;
    while (s != self->open_next && ledger_at(self, s)->done)
        s++;
    if (s == self->open_first)
        return;
    struct zipc_msg last = {.seq = s - 1, .end_ = ledger_at(self, s - 1)->end};
    zipc_channel_release_upto(self->ch, &last);
    self->open_first = s;
}

/* Work that could not be done when it arose because the endpoint was busy
 * (a view or reservation died in another thread). Runs with busy held. */
static void service(ChannelObject *self)
{
    if (self->abort_pending) {
        self->abort_pending = false;
        zipc_channel_abort(self->ch);
    }
    if (self->role == ZIPC_ROLE_CONSUMER)
        release_finished(self);
}

int zp_enter(ChannelObject *self)
{
    if (!self->ch || self->closing) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed zipc channel");
        return -1;
    }
    if (!zp_try_busy(self)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "zipc channel is in use by another thread (an endpoint belongs to one "
                        "thread at a time)");
        return -1;
    }
    service(self);
    return 0;
}

static void really_close(ChannelObject *self)
{
    zipc_channel_close(self->ch);
    self->ch = NULL;
    self->fd = -1;
}

void zp_pin(ChannelObject *self) { self->pins++; }

void zp_unpin(ChannelObject *self)
{
    self->pins--;
    if (!self->ch || !zp_try_busy(self))
        return; /* a busy owner thread services the release at its next slice or call */
    if (!self->closing)
        service(self);
    else if (self->pins == 0)
        really_close(self);
    zp_leave(self);
}

/* ------------------------------------------------------------------------
 * The blocking-call helper: every blocking method goes through here.
 * ------------------------------------------------------------------------ */

int zp_block(ChannelObject *self, zp_op op, void *arg, int64_t timeout_ns)
{
    int rc = op(self, arg, ZIPC_TRY); /* fast path: no GIL round trip */
    if (rc != -EAGAIN || timeout_ns == ZIPC_TRY)
        return rc;
    int64_t deadline = timeout_ns == ZIPC_FOREVER ? INT64_MAX : now_ns() + timeout_ns;
    for (;;) {
        int64_t left = deadline == INT64_MAX ? SLICE_NS : deadline - now_ns();
        if (left <= 0)
            return -ETIMEDOUT;
        int64_t slice = left < SLICE_NS ? left : SLICE_NS;
        Py_BEGIN_ALLOW_THREADS
        rc = op(self, arg, slice);
        Py_END_ALLOW_THREADS
        if (rc != -ETIMEDOUT && rc != -EINTR && rc != -EAGAIN)
            return rc;
        if (PyErr_CheckSignals() < 0)
            return ZP_PYERR; /* e.g. KeyboardInterrupt, even if the signal hit another thread */
        service(self); /* views may have died meanwhile: free their slots */
    }
}

PyObject *zp_arrays_attr(const char *name)
{
    PyObject *m = PyImport_ImportModule("zipc._arrays");
    PyObject *r = m ? PyObject_GetAttrString(m, name) : NULL;
    Py_XDECREF(m);
    return r;
}

void zp_copy(void *dst, const void *src, size_t n)
{
    if (n < (1u << 18)) {
        memcpy(dst, src, n);
        return;
    }
    Py_BEGIN_ALLOW_THREADS
    memcpy(dst, src, n);
    Py_END_ALLOW_THREADS
}

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

struct open_args {
    PyObject *path;       /* bytes, from PyUnicode_FSConverter */
    size_t capacity;
    bool listen;
    struct zipc_options opts;
};

static int parse_spin(PyObject *spin, struct zipc_options *o)
{
    if (spin == Py_None)
        return 0;
    int64_t ns;
    if (!zp_timeout(spin, &ns) || ns == ZIPC_FOREVER) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "spin must be a number of seconds >= 0");
        return -1;
    }
    if (ns == 0)
        o->flags |= ZIPC_OPT_NO_SPIN;
    o->spin_ns = ns;
    return 0;
}

static int parse_peer_uid(PyObject *peer_uid, int any_uid, struct zipc_options *o)
{
    if (any_uid)
        o->flags |= ZIPC_OPT_ANY_UID;
    if (peer_uid == Py_None)
        return 0;
    unsigned long uid = PyLong_AsUnsignedLong(peer_uid);
    if (PyErr_Occurred() || uid > UINT32_MAX) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "peer_uid must be a uid (int >= 0)");
        return -1;
    }
    o->flags |= ZIPC_OPT_PEER_UID;
    o->peer_uid = (uint32_t)uid;
    return 0;
}

/* listen/connect run as one C call without the GIL: slicing them would tear
 * down the socket between slices and could drop a connecting peer. A signal
 * interrupts the wait (-EINTR) in the thread that receives it. */
static PyObject *channel_open(PyTypeObject *type, struct open_args *a, int64_t timeout_ns)
{
    const char *path = PyBytes_AS_STRING(a->path);
    int64_t deadline = timeout_ns == ZIPC_FOREVER ? INT64_MAX : now_ns() + timeout_ns;
    zipc_channel *ch = NULL;
    int rc;
    for (;;) {
        int64_t left = deadline == INT64_MAX ? ZIPC_FOREVER : deadline - now_ns();
        a->opts.timeout_ns = left == ZIPC_FOREVER ? ZIPC_FOREVER : (left > 0 ? left : 1);
        Py_BEGIN_ALLOW_THREADS
        rc = a->listen ? zipc_channel_listen(&ch, path, a->capacity, &a->opts)
                       : zipc_channel_connect(&ch, path, &a->opts);
        Py_END_ALLOW_THREADS
        if (rc != -EINTR)
            break;
        if (PyErr_CheckSignals() < 0)
            return NULL;
        if (left != ZIPC_FOREVER && left <= 1)
            return raise_errno(-ETIMEDOUT, a->path);
    }
    if (rc)
        return raise_errno(rc, a->path);
    ChannelObject *self = (ChannelObject *)type->tp_alloc(type, 0);
    if (!self) {
        zipc_channel_close(ch);
        return NULL;
    }
    self->ch = ch;
    self->role = zipc_channel_role(ch);
    self->capacity = zipc_channel_capacity(ch);
    self->max_message = zipc_channel_max_message(ch);
    self->peer_pid = zipc_channel_peer_pid(ch);
    self->fd = -1;
    return (PyObject *)self;
}

static int parse_role(PyObject *role, int32_t *out)
{
    if (role == Py_None) {
        *out = ZIPC_ROLE_DEFAULT;
        return 0;
    }
    if (PyUnicode_Check(role) && PyUnicode_CompareWithASCIIString(role, "consumer") == 0)
        *out = ZIPC_ROLE_CONSUMER;
    else if (PyUnicode_Check(role) && PyUnicode_CompareWithASCIIString(role, "producer") == 0)
        *out = ZIPC_ROLE_PRODUCER;
    else {
        PyErr_SetString(PyExc_ValueError, "role must be 'consumer', 'producer' or None");
        return -1;
    }
    return 0;
}

static PyObject *Channel_listen(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "capacity", "role", "timeout", "any_uid", "peer_uid",
                             "socket_mode", "name", "spin", NULL};
    struct open_args a = {.listen = true};
    Py_ssize_t capacity = 1 << 20;
    PyObject *role = Py_None, *timeout = Py_None, *peer_uid = Py_None, *spin = Py_None;
    int any_uid = 0;
    unsigned int mode = 0;
    const char *name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|n$OOpOIzO:listen", kwlist, PyUnicode_FSConverter,
                                     &a.path, &capacity, &role, &timeout, &any_uid, &peer_uid,
                                     &mode, &name, &spin))
        return NULL;
    PyObject *res = NULL;
    int64_t tmo;
    if (capacity < ZIPC_MIN_CAPACITY || (uint64_t)capacity > ZIPC_MAX_CAPACITY) {
        PyErr_Format(PyExc_ValueError, "capacity must be in %d..%llu bytes", ZIPC_MIN_CAPACITY,
                     (unsigned long long)ZIPC_MAX_CAPACITY);
        goto out;
    }
    if (parse_role(role, &a.opts.role) || parse_peer_uid(peer_uid, any_uid, &a.opts) ||
        parse_spin(spin, &a.opts) || !zp_timeout(timeout, &tmo))
        goto out;
    a.capacity = (size_t)capacity;
    a.opts.socket_mode = mode;
    a.opts.label = name;
    res = channel_open(type, &a, tmo);
out:
    Py_DECREF(a.path);
    return res;
}

static PyObject *Channel_connect(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "timeout", "any_uid", "peer_uid", "spin", NULL};
    struct open_args a = {.listen = false};
    PyObject *timeout = NULL, *peer_uid = Py_None, *spin = Py_None;
    int any_uid = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$OpOO:connect", kwlist, PyUnicode_FSConverter,
                                     &a.path, &timeout, &any_uid, &peer_uid, &spin))
        return NULL;
    PyObject *res = NULL;
    int64_t tmo = 10 * NS_PER_S;
    if ((timeout && !zp_timeout(timeout, &tmo)) || parse_peer_uid(peer_uid, any_uid, &a.opts) ||
        parse_spin(spin, &a.opts))
        goto out;
    res = channel_open(type, &a, tmo);
out:
    Py_DECREF(a.path);
    return res;
}

/* ------------------------------------------------------------------------
 * Lifetime
 * ------------------------------------------------------------------------ */

static PyObject *Channel_close(ChannelObject *self, PyObject *Py_UNUSED(ignored))
{
    if (!self->ch || self->closing)
        Py_RETURN_NONE;
    if (zp_enter(self))
        return NULL;
    if (self->res)
        zp_reservation_detach(self->res); /* the C close aborts it */
    self->closing = true;
    if (self->pins == 0)
        really_close(self);
    else /* the peer learns now; the last view or export to go unmaps */
        zipc_channel_shutdown(self->ch);
    zp_leave(self);
    Py_RETURN_NONE;
}

static void Channel_dealloc(ChannelObject *self)
{
    /* Views and reservations hold references: none is left here. */
    if (self->ch)
        zipc_channel_close(self->ch);
    PyMem_Free(self->scratch);
    PyMem_Free(self->ledger);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Channel_enter(PyObject *self, PyObject *Py_UNUSED(ignored)) { return Py_NewRef(self); }

static PyObject *Channel_exit(ChannelObject *self, PyObject *Py_UNUSED(args))
{
    PyObject *r = Channel_close(self, NULL);
    Py_XDECREF(r);
    return r ? Py_NewRef(Py_False) : NULL;
}

static PyObject *Channel_fileno(ChannelObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->fd < 0) {
        if (zp_enter(self))
            return NULL;
        int fd = zipc_channel_fd(self->ch);
        zp_leave(self);
        if (fd < 0)
            return zp_raise(fd);
        self->fd = fd;
    }
    return PyLong_FromLong(self->fd);
}

static PyObject *Channel_stats(ChannelObject *self, PyObject *Py_UNUSED(ignored))
{
    struct zipc_channel_stats st;
    if (zp_enter(self))
        return NULL;
    int rc = zipc_channel_get_stats(self->ch, &st);
    zp_leave(self);
    if (rc)
        return zp_raise(rc);
    return Py_BuildValue("{sKsKsKsK}", "messages", (unsigned long long)st.messages, "bytes",
                         (unsigned long long)st.bytes, "wakeups", (unsigned long long)st.wakeups,
                         "sleeps", (unsigned long long)st.sleeps);
}

/* ------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------ */

static int producer_enter(ChannelObject *self)
{
    if (zp_enter(self))
        return -1;
    if (self->role != ZIPC_ROLE_PRODUCER)
        raise_msg(EOPNOTSUPP, "this endpoint is the consumer: it cannot send");
    else if (self->res)
        PyErr_SetString(PyExc_RuntimeError, "a reservation is open on this channel: commit or abort it first");
    else
        return 0;
    zp_leave(self);
    return -1;
}

struct reserve_arg {
    size_t size;
    void *buf;
};

static int op_reserve(ChannelObject *self, void *arg, int64_t timeout_ns)
{
    struct reserve_arg *r = arg;
    return zipc_channel_reserve(self->ch, r->size, &r->buf, timeout_ns);
}

/* Reserve `size` bytes (blocking per timeout); raises on failure. */
static void *reserve_blocking(ChannelObject *self, size_t size, int64_t timeout_ns)
{
    if (size > self->max_message) {
        char text[128];
        snprintf(text, sizeof text, "message of %zu bytes exceeds max_message_size (%zu)", size,
                 self->max_message);
        return raise_msg(EMSGSIZE, text);
    }
    struct reserve_arg r = {.size = size};
    int rc = zp_block(self, op_reserve, &r, timeout_ns);
    if (rc)
        return zp_raise(rc);
    return r.buf;
}

/* Copy one buffer in as a message; flags: 0 or ZIPC_COMMIT_MORE. */
static int send_one(ChannelObject *self, PyObject *data, uint32_t type, unsigned flags,
                    int64_t timeout_ns)
{
    Py_buffer b;
    if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE))
        return -1;
    void *dst = reserve_blocking(self, (size_t)b.len, timeout_ns);
    if (dst)
        zp_copy(dst, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    if (!dst)
        return -1;
    int rc = zipc_channel_commit(self->ch, (size_t)b.len, type, flags);
    if (rc) {
        zp_raise(rc);
        return -1;
    }
    return 0;
}

static PyObject *Channel_send(ChannelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "type_id", "timeout", NULL};
    PyObject *data, *timeout = Py_None;
    uint32_t type = 0;
    int64_t tmo;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&O:send", kwlist, &data, zp_type_id, &type, &timeout) ||
        !zp_timeout(timeout, &tmo) || producer_enter(self))
        return NULL;
    int rc = send_one(self, data, type, 0, tmo);
    zp_leave(self);
    return rc ? NULL : Py_NewRef(Py_None);
}

#define SEND_MANY_BATCH 64 /* publish at least every 64 messages: bounded latency */

static PyObject *Channel_send_many(ChannelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"messages", "type_id", "timeout", NULL};
    PyObject *items, *timeout = Py_None;
    uint32_t type = 0;
    int64_t tmo;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&O:send_many", kwlist, &items, zp_type_id, &type,
                                     &timeout) ||
        !zp_timeout(timeout, &tmo))
        return NULL;
    PyObject *seq = PySequence_Fast(items, "send_many() needs an iterable of bytes-like objects");
    if (!seq)
        return NULL;
    if (producer_enter(self)) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), i;
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        unsigned flags = (i + 1 == n || (i + 1) % SEND_MANY_BATCH == 0) ? 0 : ZIPC_COMMIT_MORE;
        rc = send_one(self, PySequence_Fast_GET_ITEM(seq, i), type, flags, tmo);
    }
    zipc_channel_flush(self->ch); /* an error mid-batch: what was committed goes out */
    zp_leave(self);
    Py_DECREF(seq);
    return rc ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *Channel_flush(ChannelObject *self, PyObject *Py_UNUSED(ignored))
{
    if (producer_enter(self))
        return NULL;
    int rc = zipc_channel_flush(self->ch);
    zp_leave(self);
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

/* Reserve and wrap: the Reservation object keeps the endpoint's slot. */
static PyObject *reserve_object(ChannelObject *self, size_t header, size_t size, uint32_t type,
                                int64_t tmo, const void *header_bytes)
{
    uint8_t *buf = reserve_blocking(self, header + size, tmo);
    if (!buf)
        return NULL;
    if (header)
        memcpy(buf, header_bytes, header);
    PyObject *r = zp_reservation_new(self, buf, (Py_ssize_t)size, (Py_ssize_t)header, type);
    if (!r)
        zipc_channel_abort(self->ch);
    return r;
}

static PyObject *Channel_reserve(ChannelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"size", "type_id", "timeout", NULL};
    Py_ssize_t size;
    PyObject *timeout = Py_None;
    uint32_t type = 0;
    int64_t tmo;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|O&O:reserve", kwlist, &size, zp_type_id, &type, &timeout) ||
        !zp_timeout(timeout, &tmo))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must be >= 0");
        return NULL;
    }
    if (producer_enter(self))
        return NULL;
    PyObject *r = reserve_object(self, 0, (size_t)size, type, tmo, NULL);
    zp_leave(self);
    return r;
}

/* dtype triple and shape -> tensor header; raises ValueError. */
static int tensor_init(struct zipc_tensor_header *h, int code, int bits, int lanes, Py_ssize_t ndim,
                       const int64_t *shape)
{
    if (code < 0 || code > 255 || bits < 0 || bits > 255 || lanes < 1 || lanes > 65535 || ndim < 0 ||
        ndim > ZIPC_TENSOR_MAX_NDIM) {
        PyErr_SetString(PyExc_ValueError, "unsupported dtype or more than 8 dimensions");
        return -1;
    }
    int rc = zipc_tensor_init(h, (uint8_t)code, (uint8_t)bits, (uint16_t)lanes, (unsigned)ndim, shape);
    if (rc) {
        PyErr_SetString(PyExc_ValueError, rc == -EOVERFLOW ? "tensor too large" : "invalid dtype or shape");
        return -1;
    }
    return 0;
}

static int parse_shape(PyObject *obj, int64_t *shape, Py_ssize_t *ndim)
{
    PyObject *seq = PySequence_Fast(obj, "shape must be a sequence of ints");
    if (!seq)
        return -1;
    *ndim = PySequence_Fast_GET_SIZE(seq);
    int rc = 0;
    if (*ndim > ZIPC_TENSOR_MAX_NDIM) {
        PyErr_SetString(PyExc_ValueError, "at most 8 dimensions");
        rc = -1;
    }
    for (Py_ssize_t i = 0; rc == 0 && i < *ndim; i++) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred())
            rc = -1;
        else if (v < 0) {
            PyErr_SetString(PyExc_ValueError, "negative dimension");
            rc = -1;
        }
        shape[i] = v;
    }
    Py_DECREF(seq);
    return rc;
}

static PyObject *Channel_reserve_tensor(ChannelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"shape", "code", "bits", "lanes", "type_id", "timeout", NULL};
    PyObject *shape_obj, *timeout = Py_None;
    int code, bits, lanes;
    uint32_t type = ZIPC_TYPE_TENSOR;
    int64_t tmo, shape[ZIPC_TENSOR_MAX_NDIM];
    Py_ssize_t ndim;
    struct zipc_tensor_header h;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oiii|O&O:_reserve_tensor", kwlist, &shape_obj, &code,
                                     &bits, &lanes, zp_type_id, &type, &timeout) ||
        !zp_timeout(timeout, &tmo) || parse_shape(shape_obj, shape, &ndim) ||
        tensor_init(&h, code, bits, lanes, ndim, shape) || producer_enter(self))
        return NULL;
    PyObject *r = reserve_object(self, sizeof h, (size_t)h.nbytes, type, tmo, &h);
    zp_leave(self);
    return r;
}

/* One copy of a strided buffer into the ring as a tensor message. */
static int send_tensor(ChannelObject *self, Py_buffer *b, int code, int bits, uint32_t type, int64_t tmo)
{
    int64_t shape[ZIPC_TENSOR_MAX_NDIM];
    struct zipc_tensor_header h;
    for (int i = 0; i < b->ndim && i < ZIPC_TENSOR_MAX_NDIM; i++)
        shape[i] = b->shape[i];
    if (tensor_init(&h, code, bits, 1, b->ndim, shape))
        return -1;
    if ((Py_ssize_t)h.nbytes != b->len || (b->ndim && b->itemsize != (Py_ssize_t)zipc_tensor_itemsize(h.dtype_bits, 1))) {
        PyErr_SetString(PyExc_ValueError, "buffer item size does not match the dtype");
        return -1;
    }
    if (producer_enter(self))
        return -1;
    uint8_t *buf = reserve_blocking(self, sizeof h + h.nbytes, tmo);
    int rc = buf ? 0 : -1;
    if (buf) {
        memcpy(buf, &h, sizeof h);
        if (PyBuffer_IsContiguous(b, 'C'))
            zp_copy(buf + sizeof h, b->buf, (size_t)b->len);
        else if (PyBuffer_ToContiguous(buf + sizeof h, b, b->len, 'C')) { /* strided: gathers */
            zipc_channel_abort(self->ch);
            rc = -1;
        }
        if (rc == 0 && (rc = zipc_channel_commit(self->ch, sizeof h + h.nbytes, type, 0)))
            zp_raise(rc);
    }
    zp_leave(self);
    return rc ? -1 : 0;
}

/* The DLPack (code, bits) of a native-order struct-module buffer format
 * (what NumPy exports), or false: the caller asks NumPy instead. */
static bool format_dtype(const char *f, Py_ssize_t itemsize, int *code, int *bits)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const char native = '<';
#else
    const char native = '>';
#endif
    if (!f)
        f = "B";
    if (*f == '@' || *f == '=' || *f == native)
        f++;
    bool complex = *f == 'Z';
    f += complex;
    if (!f[0] || f[1] || itemsize < 1 || itemsize > 32)
        return false;
    *bits = (int)itemsize * 8;
    if (complex)
        *code = strchr("fdg", f[0]) ? ZIPC_DTYPE_COMPLEX : -1;
    else if (strchr("bhilqn", f[0]))
        *code = ZIPC_DTYPE_INT;
    else if (strchr("BHILQN", f[0]))
        *code = ZIPC_DTYPE_UINT;
    else if (strchr("efdg", f[0]))
        *code = ZIPC_DTYPE_FLOAT;
    else
        *code = f[0] == '?' ? ZIPC_DTYPE_BOOL : -1;
    return *code >= 0;
}

/* obj's buffer and dtype: its own when it exports a plain numeric format,
 * else through numpy.asarray (zipc._arrays.tensor_args). */
static int tensor_buffer(PyObject *obj, Py_buffer *b, int *code, int *bits)
{
    static PyObject *tensor_args;
    if (PyObject_GetBuffer(obj, b, PyBUF_RECORDS_RO) == 0) {
        if (format_dtype(b->format, b->itemsize, code, bits))
            return 0;
        PyBuffer_Release(b);
    }
    PyErr_Clear();
    if (!tensor_args && !(tensor_args = zp_arrays_attr("tensor_args")))
        return -1;
    PyObject *t = PyObject_CallOneArg(tensor_args, obj); /* (ndarray, code, bits) or raises */
    PyObject *arr;
    int rc = t && PyArg_ParseTuple(t, "Oii", &arr, code, bits) ? PyObject_GetBuffer(arr, b, PyBUF_STRIDES) : -1;
    Py_XDECREF(t); /* b holds arr */
    return rc;
}

static PyObject *Channel_send_array(ChannelObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"array", "type_id", "timeout", NULL};
    PyObject *obj, *timeout = Py_None;
    uint32_t type = ZIPC_TYPE_TENSOR;
    int64_t tmo;
    Py_buffer b;
    int code, bits;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$O&O:send_array", kwlist, &obj, zp_type_id, &type, &timeout) ||
        !zp_timeout(timeout, &tmo) || tensor_buffer(obj, &b, &code, &bits))
        return NULL;
    int rc = send_tensor(self, &b, code, bits, type, tmo);
    PyBuffer_Release(&b);
    return rc ? NULL : Py_NewRef(Py_None);
}

PyObject *zp_tensor_header(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *shape_obj;
    int code, bits, lanes;
    int64_t shape[ZIPC_TENSOR_MAX_NDIM];
    Py_ssize_t ndim;
    struct zipc_tensor_header h;
    if (!PyArg_ParseTuple(args, "iiiO:tensor_header", &code, &bits, &lanes, &shape_obj) ||
        parse_shape(shape_obj, shape, &ndim) || tensor_init(&h, code, bits, lanes, ndim, shape))
        return NULL;
    return PyBytes_FromStringAndSize((const char *)&h, sizeof h);
}

/* ------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------ */

static int consumer_enter(ChannelObject *self)
{
    if (zp_enter(self))
        return -1;
    if (self->role == ZIPC_ROLE_CONSUMER)
        return 0;
    zp_leave(self);
    raise_msg(EOPNOTSUPP, "this endpoint is the producer: it cannot receive");
    return -1;
}

struct drain_arg {
    struct zipc_msg *msgs;
    unsigned max;
};

static int op_drain(ChannelObject *self, void *arg, int64_t timeout_ns)
{
    struct drain_arg *d = arg;
    return zipc_channel_drain(self->ch, d->msgs, d->max, timeout_ns);
}

static int parse_max(Py_ssize_t max, unsigned limit)
{
    if (max >= 1 && max <= (Py_ssize_t)limit)
        return 0;
    PyErr_Format(PyExc_ValueError, "max_messages must be in 1..%u", limit);
    return -1;
}

#define MAX_DRAIN 65536

static int ensure_scratch(ChannelObject *self, unsigned n)
{
    if (self->scratch_cap >= n)
        return 0;
    struct zipc_msg *m = PyMem_Realloc(self->scratch, n * sizeof *m);
    if (!m) {
        PyErr_NoMemory();
        return -1;
    }
    self->scratch = m;
    self->scratch_cap = n;
    return 0;
}

/* View up to max messages (waiting for the first) into self->scratch and
 * enter them in the ledger. Returns the count (> 0) or a negative errno
 * (ZP_PYERR: a Python exception is set). Every taken message must end in
 * zp_finish, directly or through a View. */
static int take(ChannelObject *self, unsigned max, int64_t tmo)
{
    if (ensure_scratch(self, max) || ledger_reserve(self, max))
        return ZP_PYERR;
    struct drain_arg d = {self->scratch, max};
    int n = zp_block(self, op_drain, &d, tmo);
    if (n > 0)
        ledger_add(self, self->scratch, n);
    return n;
}

/* scratch[from..n) are done with (copied out, or never wrapped). */
static void finish_taken(ChannelObject *self, int from, int n)
{
    for (int i = from; i < n; i++)
        zp_finish(self, self->scratch[i].seq);
}

/* Leave a consumer call: give back what finished meanwhile. */
static PyObject *consumer_leave(ChannelObject *self, PyObject *result)
{
    service(self);
    zp_leave(self);
    return result;
}

/* A View of a taken message; if none can be made, the message is done. */
static PyObject *view_of(ChannelObject *self, const struct zipc_msg *m)
{
    PyObject *v = zp_view_new(self, m);
    if (!v)
        zp_finish(self, m->seq);
    return v;
}

/* A zero-copy ndarray of a taken message (its View is the array's base). */
static PyObject *array_of(ChannelObject *self, const struct zipc_msg *m)
{
    PyObject *v = view_of(self, m);
    PyObject *a = v ? zp_view_array((ViewObject *)v) : NULL;
    Py_XDECREF(v); /* the array holds it; without one the message is done here */
    return a;
}

typedef PyObject *(*wrap_fn)(ChannelObject *self, const struct zipc_msg *m);

/* scratch[0..n) wrapped one by one: a list, or NULL (every one finished). */
static PyObject *wrap_taken(ChannelObject *self, int n, wrap_fn wrap)
{
    PyObject *list = PyList_New(n);
    int i = 0;
    for (; list && i < n; i++) {
        PyObject *x = wrap(self, &self->scratch[i]);
        if (!x)
            break;
        PyList_SET_ITEM(list, i, x);
    }
    if (i < n) { /* scratch[i] ended in wrap (or PyList_New failed: none began) */
        finish_taken(self, list ? i + 1 : 0, n);
        Py_CLEAR(list);
    }
    return list;
}

static PyTypeObject *Message_Type;

/* A copy of a taken message (the caller finishes it). */
static PyObject *message_new(ChannelObject *Py_UNUSED(self), const struct zipc_msg *m)
{
    PyObject *msg = PyStructSequence_New(Message_Type);
    if (!msg)
        return NULL;
    PyObject *type = PyLong_FromUnsignedLong(m->type);
    PyObject *data = PyBytes_FromStringAndSize(NULL, m->size);
    if (!type || !data) {
        Py_XDECREF(type);
        Py_XDECREF(data);
        Py_DECREF(msg);
        return NULL;
    }
    zp_copy(PyBytes_AS_STRING(data), m->data, m->size);
    PyStructSequence_SET_ITEM(msg, 0, type);
    PyStructSequence_SET_ITEM(msg, 1, data);
    return msg;
}

static PyObject *payload_copy(ChannelObject *Py_UNUSED(self), const struct zipc_msg *m)
{
    return PyBytes_FromStringAndSize(m->data, m->size);
}

/* Take one message and wrap it (copy: finish it too). at_end: what the
 * peer's end means (raise, or NULL without an exception: StopIteration). */
static PyObject *take_one(ChannelObject *self, int64_t tmo, wrap_fn wrap, bool copy, bool stop_at_end)
{
    if (consumer_enter(self))
        return NULL;
    int n = take(self, 1, tmo);
    PyObject *r = n > 0 ? wrap(self, &self->scratch[0]) : NULL;
    if (copy)
        finish_taken(self, 0, n);
    consumer_leave(self, NULL);
    if (n == -EPIPE && stop_at_end)
        return NULL;
    return n < 0 ? zp_raise(n) : r;
}

/* Take up to max messages and wrap them: a list (copy: finish them too). */
static PyObject *take_many(ChannelObject *self, Py_ssize_t max, int64_t tmo, wrap_fn wrap, bool copy)
{
    if (parse_max(max, MAX_DRAIN) || consumer_enter(self))
        return NULL;
    int n = take(self, (unsigned)max, tmo);
    PyObject *list = n > 0 ? wrap_taken(self, n, wrap) : zp_raise(n);
    if (copy)
        finish_taken(self, 0, n);
    return consumer_leave(self, list);
}

static int parse_timeout_only(PyObject *args, PyObject *kw, const char *fmt, int64_t *tmo)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    return PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &timeout) && zp_timeout(timeout, tmo);
}

static int parse_max_timeout(PyObject *args, PyObject *kw, const char *fmt, Py_ssize_t *max, int64_t *tmo)
{
    static char *kwlist[] = {"max_messages", "timeout", NULL};
    PyObject *timeout = Py_None;
    return PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, max, &timeout) && zp_timeout(timeout, tmo);
}

static PyObject *Channel_recv(ChannelObject *self, PyObject *args, PyObject *kw)
{
    int64_t tmo;
    return parse_timeout_only(args, kw, "|O:recv", &tmo) ? take_one(self, tmo, message_new, true, false) : NULL;
}

static PyObject *Channel_iternext(ChannelObject *self)
{
    return take_one(self, ZIPC_FOREVER, message_new, true, true);
}

static PyObject *Channel_view(ChannelObject *self, PyObject *args, PyObject *kw)
{
    int64_t tmo;
    return parse_timeout_only(args, kw, "|O:view", &tmo) ? take_one(self, tmo, view_of, false, false) : NULL;
}

static PyObject *Channel_recv_array(ChannelObject *self, PyObject *args, PyObject *kw)
{
    int64_t tmo;
    return parse_timeout_only(args, kw, "|O:recv_array", &tmo) ? take_one(self, tmo, array_of, false, false)
                                                               : NULL;
}

/* The fast path: payloads only, one bytes object each, one C loop. */
static PyObject *Channel_recv_many(ChannelObject *self, PyObject *args, PyObject *kw)
{
    Py_ssize_t max = 1024;
    int64_t tmo;
    return parse_max_timeout(args, kw, "|nO:recv_many", &max, &tmo) ? take_many(self, max, tmo, payload_copy, true)
                                                                    : NULL;
}

static PyObject *Channel_recv_arrays(ChannelObject *self, PyObject *args, PyObject *kw)
{
    Py_ssize_t max = 64;
    int64_t tmo;
    return parse_max_timeout(args, kw, "|nO:recv_arrays", &max, &tmo) ? take_many(self, max, tmo, array_of, false)
                                                                      : NULL;
}

static PyObject *Channel_drain(ChannelObject *self, PyObject *args, PyObject *kw)
{
    Py_ssize_t max = 64;
    int64_t tmo;
    if (!parse_max_timeout(args, kw, "|nO:drain", &max, &tmo))
        return NULL;
    PyObject *views = take_many(self, max, tmo, view_of, false);
    if (!views)
        return NULL;
    PyObject *tuple = PyList_AsTuple(views);
    Py_DECREF(views);
    PyObject *batch = tuple ? zp_batch_new(tuple) : NULL;
    Py_XDECREF(tuple);
    return batch;
}

/* ------------------------------------------------------------------------
 * Properties and the type
 * ------------------------------------------------------------------------ */

static PyObject *Channel_get_role(ChannelObject *self, void *Py_UNUSED(c))
{
    return PyUnicode_FromString(self->role == ZIPC_ROLE_PRODUCER ? "producer" : "consumer");
}
static PyObject *Channel_get_capacity(ChannelObject *self, void *Py_UNUSED(c)) { return PyLong_FromSize_t(self->capacity); }
static PyObject *Channel_get_max(ChannelObject *self, void *Py_UNUSED(c)) { return PyLong_FromSize_t(self->max_message); }
static PyObject *Channel_get_pid(ChannelObject *self, void *Py_UNUSED(c)) { return PyLong_FromLong(self->peer_pid); }
static PyObject *Channel_get_closed(ChannelObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(!self->ch || self->closing);
}

static PyGetSetDef Channel_getset[] = {
    {"role", (getter)Channel_get_role, NULL, "'producer' or 'consumer'.", NULL},
    {"capacity", (getter)Channel_get_capacity, NULL, "Ring size in bytes (a power of two).", NULL},
    {"max_message_size", (getter)Channel_get_max, NULL,
     "Largest message always accepted: capacity // 2 - 16.", NULL},
    {"peer_pid", (getter)Channel_get_pid, NULL, "Peer process id from the handshake (0 if unknown).", NULL},
    {"closed", (getter)Channel_get_closed, NULL, "True after close().", NULL},
    {NULL},
};

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef Channel_methods[] = {
    {"listen", KW Channel_listen, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "listen(path, capacity=1<<20, *, role=None, timeout=None, any_uid=False, peer_uid=None, "
     "socket_mode=0o600, name=None, spin=None)\n--\n\n"
     "Create a channel at the Unix socket `path` and wait for one peer. The listener is the "
     "consumer unless role='producer'. timeout=None waits forever."},
    {"connect", KW Channel_connect, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "connect(path, *, timeout=10.0, any_uid=False, peer_uid=None, spin=None)\n--\n\n"
     "Connect to a listener at `path`, retrying until it appears or the timeout elapses."},
    {"close", (PyCFunction)Channel_close, METH_NOARGS,
     "Close the endpoint; the peer sees PeerGone after draining. With views or exports still "
     "alive, the unmapping waits for the last of them."},
    {"__enter__", (PyCFunction)Channel_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Channel_exit, METH_VARARGS, NULL},
    {"fileno", (PyCFunction)Channel_fileno, METH_NOARGS,
     "A pollable fd: readable when the awaited condition may hold. Once created, every call that "
     "would block with timeout=0 arms it: try, on Timeout wait for readability, try again."},
    {"stats", (PyCFunction)Channel_stats, METH_NOARGS, "This endpoint's counters as a dict."},
    {"send", KW Channel_send, METH_VARARGS | METH_KEYWORDS,
     "send(data, type_id=0, timeout=None)\n--\n\nCopy a bytes-like object in as one message."},
    {"send_many", KW Channel_send_many, METH_VARARGS | METH_KEYWORDS,
     "send_many(messages, type_id=0, timeout=None)\n--\n\n"
     "Send each bytes-like object of an iterable, published in batches. Returns the count."},
    {"flush", (PyCFunction)Channel_flush, METH_NOARGS, "Publish staged messages (never blocks)."},
    {"reserve", KW Channel_reserve, METH_VARARGS | METH_KEYWORDS,
     "reserve(size, type_id=0, timeout=None)\n--\n\n"
     "Reserve `size` writable bytes in the ring: a Reservation (buffer protocol). Leaving its "
     "`with` block commits, an exception aborts."},
    {"_reserve_tensor", KW Channel_reserve_tensor, METH_VARARGS | METH_KEYWORDS, NULL},
    {"send_array", KW Channel_send_array, METH_VARARGS | METH_KEYWORDS,
     "send_array(array, *, type_id=TYPE_TENSOR, timeout=None)\n--\n\n"
     "Send an array-like (NumPy array, any buffer of a numeric format, or anything "
     "numpy.asarray takes) as a tensor message: one copy into the ring. A non-contiguous array "
     "is gathered into C order on the way; the receiver always gets a C-contiguous tensor."},
    {"recv", KW Channel_recv, METH_VARARGS | METH_KEYWORDS,
     "recv(timeout=None)\n--\n\nReceive one message as a copy: Message(type_id, data)."},
    {"recv_many", KW Channel_recv_many, METH_VARARGS | METH_KEYWORDS,
     "recv_many(max_messages=1024, timeout=None)\n--\n\n"
     "Wait for at least one message, then take every message already there (up to "
     "max_messages): a list of bytes payloads. The fast path."},
    {"recv_array", KW Channel_recv_array, METH_VARARGS | METH_KEYWORDS,
     "recv_array(timeout=None)\n--\n\n"
     "Receive a tensor message as a read-only NumPy array over the ring, without copying. "
     "The array keeps its slot until it is garbage-collected; slots go back in order, so "
     "holding one array only holds back the slots after it until it goes. TypeError (after "
     "receiving) if the message is not a tensor."},
    {"recv_arrays", KW Channel_recv_arrays, METH_VARARGS | METH_KEYWORDS,
     "recv_arrays(max_messages=64, timeout=None)\n--\n\n"
     "Wait for one tensor message, then take every one already there (up to max_messages): "
     "a list of read-only zero-copy arrays. TypeError (after receiving) if one is not a tensor."},
    {"view", KW Channel_view, METH_VARARGS | METH_KEYWORDS,
     "view(timeout=None)\n--\n\nThe next message in place, as a read-only View."},
    {"drain", KW Channel_drain, METH_VARARGS | METH_KEYWORDS,
     "drain(max_messages=64, timeout=None)\n--\n\n"
     "Wait for one message, then view every one already there: a Batch of Views."},
    {NULL},
};

static PyObject *Channel_new_refused(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args, (void)kw;
    PyErr_Format(PyExc_TypeError, "use %s.listen() or %s.connect()", type->tp_name, type->tp_name);
    return NULL;
}

static PyObject *Channel_iter(PyObject *self) { return Py_NewRef(self); }

PyTypeObject ZpChannel_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc._zipc.Channel",
    .tp_basicsize = sizeof(ChannelObject),
    .tp_dealloc = (destructor)Channel_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "One endpoint of a zipc channel (producer or consumer).",
    .tp_weaklistoffset = offsetof(ChannelObject, weakreflist),
    .tp_iter = Channel_iter,
    .tp_iternext = (iternextfunc)Channel_iternext,
    .tp_methods = Channel_methods,
    .tp_getset = Channel_getset,
    .tp_new = Channel_new_refused,
};

/* ------------------------------------------------------------------------
 * Module
 * ------------------------------------------------------------------------ */

static PyStructSequence_Field message_fields[] = {
    {"type_id", "32-bit message type"},
    {"data", "the payload (bytes)"},
    {NULL, NULL},
};
static PyStructSequence_Desc message_desc = {"zipc.Message", "A received message (a copy).",
                                             message_fields, 2};

static PyObject *mod_strerror(PyObject *m, PyObject *arg)
{
    (void)m;
    long e = PyLong_AsLong(arg);
    if (e == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(zipc_strerror(e < -4096 || e > 4096 ? 0 : (int)e));
}

static PyMethodDef module_methods[] = {
    {"strerror", mod_strerror, METH_O, "zipc_strerror(errno): the C library's text."},
    {"tensor_info", zp_tensor_info, METH_O,
     "tensor_info(buffer) -> (code, bits, lanes, shape, strides, data_offset, nbytes): parse and "
     "validate a tensor payload's header. Raises CorruptedError."},
    {"tensor_header", zp_tensor_header, METH_VARARGS,
     "tensor_header(code, bits, lanes, shape) -> bytes: a C-contiguous tensor header."},
    {NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "zipc._zipc", "zipc C extension (see the zipc package).", -1,
    module_methods,
};

static PyObject *new_error(PyObject *m, const char *name, PyObject *bases, const char *doc)
{
    char full[64];
    snprintf(full, sizeof full, "zipc.%s", name);
    PyObject *cls = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (cls && PyModule_AddObjectRef(m, name, cls) < 0)
        Py_CLEAR(cls);
    return cls;
}

static int add_errors(PyObject *m)
{
    ZpErr_Base = new_error(m, "Error", Py_NewRef(PyExc_OSError),
                           "Base of every zipc error: an OSError with .errno and the C library's text.");
    if (!ZpErr_Base)
        return -1;
#define SUB(var, name, builtin, doc) \
    if (!(var = new_error(m, name, builtin ? PyTuple_Pack(2, ZpErr_Base, builtin) : PyTuple_Pack(1, ZpErr_Base), doc))) return -1
    SUB(ZpErr_Timeout, "Timeout", PyExc_TimeoutError, "The timeout elapsed (ETIMEDOUT), or timeout=0 would block (EAGAIN).");
    SUB(ZpErr_PeerGone, "PeerGone", PyExc_BrokenPipeError, "The peer closed or died (EPIPE); a consumer gets it after draining.");
    SUB(ZpErr_Abi, "AbiMismatchError", NULL, "The peer speaks another zipc ABI (EPROTO).");
    SUB(ZpErr_Corrupted, "CorruptedError", NULL, "The shared segment or a message is corrupted or hostile (EBADMSG).");
    SUB(ZpErr_Invalid, "InvalidArgument", PyExc_ValueError, "Invalid argument (EINVAL) or message too large (EMSGSIZE).");
    SUB(ZpErr_Permission, "PermissionDenied", PyExc_PermissionError, "Peer credentials refused (EPERM, EACCES).");
#undef SUB
    return 0;
}

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
    if (PyType_Ready(t) < 0)
        return -1;
    return PyModule_AddObjectRef(m, name, (PyObject *)t);
}

static int add_constants(PyObject *m)
{
    static const struct { const char *name; long long v; } c[] = {
        {"TYPE_BYTES", ZIPC_TYPE_BYTES}, {"TYPE_STR", ZIPC_TYPE_STR}, {"TYPE_JSON", ZIPC_TYPE_JSON},
        {"TYPE_TENSOR", ZIPC_TYPE_TENSOR}, {"TYPE_LIST", ZIPC_TYPE_LIST},
        {"TYPE_RESERVED_MIN", ZIPC_TYPE_RESERVED_MIN}, {"TENSOR_DATA_OFFSET", ZIPC_TENSOR_DATA_OFFSET},
        {"TENSOR_MAX_NDIM", ZIPC_TENSOR_MAX_NDIM}, {"LIST_ALIGN", ZIPC_LIST_ALIGN},
        {"ABI_VERSION", 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        long long v = strcmp(c[i].name, "ABI_VERSION") ? c[i].v : (long long)zipc_abi_version();
        if (PyModule_AddObject(m, c[i].name, PyLong_FromLongLong(v)) < 0)
            return -1;
    }
    return PyModule_AddStringConstant(m, "C_VERSION", zipc_version());
}

PyMODINIT_FUNC PyInit__zipc(void);
PyMODINIT_FUNC PyInit__zipc(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Message_Type = PyStructSequence_NewType(&message_desc);
    if (!Message_Type || PyModule_AddObjectRef(m, "Message", (PyObject *)Message_Type) < 0 ||
        add_errors(m) || add_constants(m) || add_type(m, &ZpChannel_Type, "Channel") ||
        add_type(m, &ZpView_Type, "View") || add_type(m, &ZpBatch_Type, "Batch") ||
        add_type(m, &ZpReservation_Type, "Reservation")) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
