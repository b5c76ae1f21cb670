/* zipc._zipc: the endpoint methods every kind shares, the Channel type,
 * error mapping, the blocking-call helper and the module. The topic's
 * Publisher and Subscriber live in _topic.c, the Queue in _queue.c, the
 * Store in _store.c; views and batches in _view.c, DLPack capsules in
 * _dlpack.c, reservations in _reserve.c, tensor headers
 * and NumPy arrays in _tensor.c, the built-in C producer in _cproducer.c.
 * See _zipc.h for the lifetime rules. */
#include "_zipc.h"

#include <structmember.h>
#include <time.h>

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

static struct PyModuleDef module_def;

zp_state *zp_get_state(void)
{
    PyObject *m = PyState_FindModule(&module_def);
    return m ? PyModule_GetState(m) : NULL;
}

/* The exception class of each code. Every code of ZIPC_ERRNO_MAP is
 * decided here; test_errors.py walks the map (_zipc.ERRNO_MAP) and checks
 * each one, so a code added to the C map fails the test until it is placed. */
static PyObject *error_class(int e)
{
    zp_state *st = zp_get_state();
    if (!st)
        return PyExc_OSError; /* the module is being torn down */
    switch (e) {
    case EAGAIN:
    case ETIMEDOUT:
        return st->err_timeout;
    case EPIPE:
        return st->err_peer_gone;
    case EPROTO:
        return st->err_abi;
    case EBADMSG:
        return st->err_corrupted;
    case ECANCELED:
        return st->err_cancelled;
    case EINVAL:
    case EMSGSIZE:
    case EOPNOTSUPP: /* every wrong-role call */
    case ENAMETOOLONG:
        return st->err_invalid;
    case EPERM:
    case EACCES:
        return st->err_permission;
    case EOVERFLOW:
        return st->err_overflow;
    case ESTALE:
        return st->err_stale;
    case ECONNRESET: /* rpc: the worker serving the call died */
        return st->err_conn_reset;
    default: /* EADDRINUSE, ENOENT, ENOSPC, ECONNREFUSED, ENOTSOCK, EFBIG, ... : zipc.Error with .errno */
        return st->err_base;
    }
}

/* The one place a zipc errno becomes a Python exception; fspath: bytes or NULL. */
PyObject *zp_raise_path(int err, PyObject *fspath)
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

PyObject *zp_raise_text(int e, const char *text)
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
    return zp_raise_path(err, NULL);
}

/* Raise Overflow for a loss: .messages and .bytes on the exception, and in
 * self->last_loss; `text`: the binding's own (NULL: the C library's). */
static PyObject *raise_loss(EndpointObject *self, uint64_t messages, uint64_t bytes, const char *text)
{
    PyObject *cls = error_class(EOVERFLOW);
    PyObject *exc = PyObject_CallFunction(cls, "is", EOVERFLOW, text ? text : zipc_strerror(EOVERFLOW));
    PyObject *m = PyLong_FromUnsignedLongLong(messages), *b = PyLong_FromUnsignedLongLong(bytes);
    if (exc && m && b && PyObject_SetAttrString(exc, "messages", m) == 0 &&
        PyObject_SetAttrString(exc, "bytes", b) == 0)
        PyErr_SetObject(cls, exc);
    self->last_loss = (struct zp_loss){messages, bytes, 0};
    Py_XDECREF(exc);
    Py_XDECREF(m);
    Py_XDECREF(b);
    return NULL;
}

PyObject *zp_raise_ep(EndpointObject *self, int err)
{
    uint64_t messages = 0, bytes = 0;
    if (err == -EOVERFLOW && self->ep && self->ops->last_loss &&
        self->ops->last_loss(self->ep, &messages, &bytes) == 0)
        return raise_loss(self, messages, bytes, NULL);
    return zp_raise(err);
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

/* Positional arguments are taken as they come (no tuple, no dict); keywords
 * are matched by name only when there are any. */
int zp_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
            const char *const *names, int npos, int required, PyObject **out)
{
    int n = 0;
    while (names[n])
        n++;
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional argument%s (%zd given)", fname, npos,
                     npos == 1 ? "" : "s", nargs);
        return -1;
    }
    for (int i = 0; i < n; i++)
        out[i] = i < nargs ? args[i] : NULL;
    for (Py_ssize_t k = 0, nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0)
            i++;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, key);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < required; i++)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", fname, names[i], i + 1);
            return -1;
        }
    return 0;
}

int zp_opt_timeout(PyObject *obj, int64_t *ns)
{
    if (!obj || obj == Py_None) {
        *ns = ZIPC_FOREVER;
        return 1;
    }
    return zp_timeout(obj, ns);
}

int zp_opt_type_id(PyObject *obj, uint32_t *type) { return !obj || zp_type_id(obj, type); }

int zp_opt_ssize(PyObject *obj, Py_ssize_t *v)
{
    if (!obj)
        return 1;
    *v = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
    return !(*v == -1 && PyErr_Occurred());
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Busy flag, pins, deferred work. Everything here runs under the GIL; the
 * C calls it makes run with busy held.
 * ------------------------------------------------------------------------ */

bool zp_try_busy(EndpointObject *self)
{
    if (__atomic_exchange_n(&self->busy, 1, __ATOMIC_ACQUIRE) != 0)
        return false;
    self->owner = PyThread_get_thread_ident();
    return true;
}

/* Give back views that died while the endpoint was busy, and abort a
 * reservation dropped meanwhile. */
static void run_deferred(EndpointObject *self)
{
    if (self->abort_pending) {
        self->abort_pending = false;
        self->ops->abort(self->ep);
    }
    for (Py_ssize_t i = 0; i < self->deferred_n; i++)
        if (self->ops->release_view(self->ep, &self->deferred[i]) == -ESTALE)
            self->stale_unreported++;
    self->held -= self->deferred_n;
    self->deferred_n = 0;
}

static void really_close(EndpointObject *self)
{
    self->close_err = self->ops->close(self->ep);
    self->ep = NULL;
    self->fd = -1;
    self->held = self->stash_n = self->deferred_n = 0;
}

/* Closed for calls: the peer learns at once; the unmapping waits for the
 * last view or export (zp_leave, once pins == 0). */
static void begin_close(EndpointObject *self)
{
    if (self->res)
        zp_reservation_detach(self->res); /* the C close aborts it */
    self->closing = true;
    if (self->pins > 0 && self->ops->shutdown)
        self->ops->shutdown(self->ep);
}

void zp_leave(EndpointObject *self)
{
    if (self->ep) {
        run_deferred(self);
        if (self->close_requested && !self->closing)
            begin_close(self);
        if (self->closing && self->pins == 0)
            really_close(self);
    }
    __atomic_store_n(&self->busy, 0, __ATOMIC_RELEASE);
}

static bool closed_for_calls(EndpointObject *self)
{
    return !self->ep || self->closing || self->close_requested;
}

int zp_enter(EndpointObject *self)
{
    if (closed_for_calls(self)) {
        PyErr_Format(PyExc_ValueError, "operation on a closed %s", Py_TYPE(self)->tp_name);
        return -1;
    }
    if (!zp_try_busy(self)) {
        PyErr_Format(PyExc_RuntimeError,
                     "%s is in use by another thread (an endpoint belongs to one thread at a time; "
                     "only close() and interrupt() may come from another)", Py_TYPE(self)->tp_name);
        return -1;
    }
    run_deferred(self);
    return 0;
}

void zp_pin(EndpointObject *self) { self->pins++; }

int zp_unpin(EndpointObject *self, const struct zipc_msg *msg)
{
    self->pins--;
    if (!self->ep)
        return 0;
    if (!zp_try_busy(self)) { /* the thread inside a call gives it back */
        if (msg)
            self->deferred[self->deferred_n++] = *msg; /* room: deferred_cap >= held */
        return 0;
    }
    int rc = 0;
    if (msg) {
        rc = self->ops->release_view(self->ep, msg);
        self->held--;
    }
    zp_leave(self);
    return rc;
}

/* ------------------------------------------------------------------------
 * The blocking-call helper: every blocking method goes through here.
 * ------------------------------------------------------------------------ */

int zp_block(EndpointObject *self, zp_op op, void *arg, int64_t timeout_ns)
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
        if (self->close_requested)
            return -ECANCELED; /* close() from another thread (its interrupt may come later) */
        run_deferred(self); /* views may have died meanwhile: free their slots */
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
    if (n < ZP_COPY_NOGIL) {
        zipc_copy(dst, src, n);
        return;
    }
    Py_BEGIN_ALLOW_THREADS
    zipc_copy(dst, src, n);
    Py_END_ALLOW_THREADS
}

/* ------------------------------------------------------------------------
 * The endpoint object, and the channel's C calls in the zp_ops shape
 * ------------------------------------------------------------------------ */

PyObject *zp_endpoint_new(PyTypeObject *type, void *ep, const zp_ops *ops, int role, size_t capacity,
                          size_t max_message, int peer_pid)
{
    EndpointObject *self = (EndpointObject *)type->tp_alloc(type, 0);
    if (!self) {
        ops->close(ep);
        return NULL;
    }
    self->ep = ep;
    self->ops = ops;
    self->role = role;
    self->capacity = capacity;
    self->max_message = max_message;
    self->peer_pid = peer_pid;
    self->fd = -1;
    return (PyObject *)self;
}

static int ch_reserve(void *ep, size_t n, void **buf, int64_t t) { return zipc_channel_reserve(ep, n, buf, t); }
static int ch_commit(void *ep, size_t n, uint32_t type, unsigned flags) { return zipc_channel_commit(ep, n, type, flags); }
static int ch_abort(void *ep) { return zipc_channel_abort(ep); }
static int ch_flush(void *ep) { return zipc_channel_flush(ep); }
static int ch_drain(void *ep, struct zipc_msg *m, unsigned max, int64_t t) { return zipc_channel_drain(ep, m, max, t); }
static int ch_release_view(void *ep, const struct zipc_msg *m) { return zipc_channel_release_view(ep, m); }
static int ch_release_views(void *ep, const struct zipc_msg *m, unsigned n)
{
    return zipc_channel_release_views(ep, m, n);
}
static int ch_interrupt(void *ep) { return zipc_channel_interrupt(ep); }
static int ch_fd(void *ep) { return zipc_channel_fd(ep); }
static int ch_shutdown(void *ep) { return zipc_channel_shutdown(ep); }
static int ch_close(void *ep) { return zipc_channel_close(ep); }

PyObject *zp_counters(const char *const *names, const uint64_t *values, size_t n)
{
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < n; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(values[i]);
        if (!v || PyDict_SetItemString(d, names[i], v))
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *ch_stats(EndpointObject *self)
{
    static const char *const names[] = {"messages", "bytes", "wakeups", "sleeps"};
    struct zipc_channel_stats st;
    int rc = zipc_channel_get_stats(self->ep, &st);
    if (rc)
        return zp_raise(rc);
    const uint64_t v[] = {st.messages, st.bytes, st.wakeups, st.sleeps};
    return zp_counters(names, v, sizeof v / sizeof v[0]);
}

static const zp_ops channel_ops = {
    .reserve = ch_reserve, .commit = ch_commit, .abort = ch_abort, .flush = ch_flush,
    .drain = ch_drain, .release_view = ch_release_view, .release_views = ch_release_views,
    .interrupt = ch_interrupt, .fd = ch_fd, .shutdown = ch_shutdown, .close = ch_close,
    .stats = ch_stats,
};

/* ------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------ */

struct open_args {
    PyObject *path;       /* a name or a socket path: bytes, from PyUnicode_FSConverter */
    size_t capacity;
    bool listen;
    struct zipc_options opts;
};

int zp_parse_spin(PyObject *spin, struct zipc_options *o)
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

int zp_parse_peer_uid(PyObject *peer_uid, int any_uid, struct zipc_options *o)
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
            return zp_raise_path(-ETIMEDOUT, a->path);
    }
    if (rc)
        return zp_raise_path(rc, a->path);
    return zp_endpoint_new(type, ch, &channel_ops, zipc_channel_role(ch), zipc_channel_capacity(ch),
                           zipc_channel_max_message(ch), zipc_channel_peer_pid(ch));
}

int zp_open_sliced(int (*open)(void *arg, int64_t timeout_ns), void *arg, int64_t timeout_ns)
{
    int64_t deadline = timeout_ns == ZIPC_FOREVER ? INT64_MAX : now_ns() + timeout_ns;
    for (;;) {
        int64_t left = deadline == INT64_MAX ? INT64_MAX : deadline - now_ns();
        bool last = left <= SLICE_NS;
        int64_t slice = last ? (left > 0 ? left : 1) : SLICE_NS; /* 1: the options' 0 means "the default" */
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = open(arg, slice);
        Py_END_ALLOW_THREADS
        if ((rc != -ETIMEDOUT && rc != -ENOENT && rc != -EINTR) || last)
            return rc == -EINTR ? -ETIMEDOUT : rc; /* the last slice: its answer */
        if (PyErr_CheckSignals() < 0)
            return ZP_PYERR;
    }
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

int zp_check_capacity(Py_ssize_t capacity)
{
    if (capacity >= ZIPC_MIN_CAPACITY && (uint64_t)capacity <= ZIPC_MAX_CAPACITY)
        return 0;
    PyErr_Format(PyExc_ValueError, "capacity must be in %d..%llu bytes", ZIPC_MIN_CAPACITY,
                 (unsigned long long)ZIPC_MAX_CAPACITY);
    return -1;
}

/* timeout not given (NULL): the C default, ZIPC_DEFAULT_TIMEOUT_NS. */
int zp_open_timeout(PyObject *timeout, int64_t *ns)
{
    *ns = ZIPC_DEFAULT_TIMEOUT_NS;
    return !timeout || zp_timeout(timeout, ns);
}

int zp_parse_max_segment(PyObject *obj, uint64_t *out)
{
    if (obj == Py_None)
        return 0;
    unsigned long long v = PyLong_AsUnsignedLongLong(obj);
    if ((v == (unsigned long long)-1 && PyErr_Occurred()) || v == 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "max_segment must be a number of bytes > 0, or None");
        return -1;
    }
    *out = v;
    return 0;
}

static PyObject *Channel_listen(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "capacity", "role", "timeout", "any_uid", "peer_uid",
                             "socket_mode", "label", "spin", NULL};
    struct open_args a = {.listen = true};
    Py_ssize_t capacity = 1 << 20;
    PyObject *role = Py_None, *timeout = NULL, *peer_uid = Py_None, *spin = Py_None;
    int any_uid = 0;
    unsigned int mode = 0;
    const char *label = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|n$OOpOIzO:listen", kwlist, PyUnicode_FSConverter,
                                     &a.path, &capacity, &role, &timeout, &any_uid, &peer_uid,
                                     &mode, &label, &spin))
        return NULL;
    PyObject *res = NULL;
    int64_t tmo;
    if (zp_check_capacity(capacity) || parse_role(role, &a.opts.role) ||
        zp_parse_peer_uid(peer_uid, any_uid, &a.opts) || zp_parse_spin(spin, &a.opts) ||
        !zp_open_timeout(timeout, &tmo))
        goto out;
    a.capacity = (size_t)capacity;
    a.opts.socket_mode = mode;
    a.opts.label = label;
    res = channel_open(type, &a, tmo);
out:
    Py_DECREF(a.path);
    return res;
}

static PyObject *Channel_connect(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "timeout", "any_uid", "peer_uid", "max_segment", "spin", NULL};
    struct open_args a = {.listen = false};
    PyObject *timeout = NULL, *peer_uid = Py_None, *max_segment = Py_None, *spin = Py_None;
    int any_uid = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$OpOOO:connect", kwlist, PyUnicode_FSConverter,
                                     &a.path, &timeout, &any_uid, &peer_uid, &max_segment, &spin))
        return NULL;
    PyObject *res = NULL;
    int64_t tmo;
    if (!zp_open_timeout(timeout, &tmo) || zp_parse_peer_uid(peer_uid, any_uid, &a.opts) ||
        zp_parse_max_segment(max_segment, &a.opts.max_segment) || zp_parse_spin(spin, &a.opts))
        goto out;
    res = channel_open(type, &a, tmo);
out:
    Py_DECREF(a.path);
    return res;
}

/* ------------------------------------------------------------------------
 * Lifetime
 * ------------------------------------------------------------------------ */

/* The thread inside a call leaves it promptly (woken by the interrupt, or at
 * its next slice) and closes as it leaves: wait for that, without the GIL. */
static PyObject *wait_closed(EndpointObject *self)
{
    while (self->ep && !self->closing) {
        Py_BEGIN_ALLOW_THREADS
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000}, NULL);
        Py_END_ALLOW_THREADS
        if (PyErr_CheckSignals() < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *zp_ep_close(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (!self->ep || self->closing)
        Py_RETURN_NONE;
    self->close_requested = true;
    if (zp_try_busy(self)) {
        zp_leave(self); /* closes */
        int err = self->close_err;
        self->close_err = 0;
        if (err < 0 && err != -EINTR) { /* what was sent is lost: say so */
            PyObject *exc = PyObject_CallFunction(error_class(-err), "is", -err,
                                                  "closed alone: messages were left that no consumer joined to take");
            if (exc)
                PyErr_SetObject(error_class(-err), exc);
            Py_XDECREF(exc);
            return NULL;
        }
        if (err == -EINTR && PyErr_CheckSignals() < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    self->ops->interrupt(self->ep); /* safe from any thread; ep lives while busy */
    if (self->owner == PyThread_get_thread_ident())
        Py_RETURN_NONE; /* re-entered (a signal handler, a __del__): the call closes on leaving */
    return wait_closed(self);
}

PyObject *zp_ep_interrupt(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->ep)
        self->ops->interrupt(self->ep);
    Py_RETURN_NONE;
}

void zp_ep_dealloc(EndpointObject *self)
{
    /* Views and reservations hold references: none is left here. */
    if (self->ep)
        self->ops->close(self->ep);
    PyMem_Free(self->scratch);
    PyMem_Free(self->stash);
    PyMem_Free(self->deferred);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyObject *zp_ep_enter(PyObject *self, PyObject *Py_UNUSED(ignored)) { return Py_NewRef(self); }

PyObject *zp_ep_exit(EndpointObject *self, PyObject *Py_UNUSED(args))
{
    PyObject *r = zp_ep_close(self, NULL);
    Py_XDECREF(r);
    return r ? Py_NewRef(Py_False) : NULL;
}

PyObject *zp_ep_fileno(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->fd < 0) {
        if (zp_enter(self))
            return NULL;
        int fd = self->ops->fd(self->ep);
        if (fd >= 0)
            self->fd = fd;
        zp_leave(self);
        if (fd < 0)
            return zp_raise(fd);
    }
    return PyLong_FromLong(self->fd);
}

PyObject *zp_ep_stats(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (zp_enter(self))
        return NULL;
    PyObject *d = self->ops->stats(self);
    zp_leave(self);
    return d;
}

/* ------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------ */

static int producer_enter(EndpointObject *self)
{
    if (zp_enter(self))
        return -1;
    if (self->role != ZIPC_ROLE_PRODUCER)
        zp_raise_text(EOPNOTSUPP, "this endpoint is the consumer: it cannot send");
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

static int op_reserve(EndpointObject *self, void *arg, int64_t timeout_ns)
{
    struct reserve_arg *r = arg;
    return self->ops->reserve(self->ep, r->size, &r->buf, timeout_ns);
}

/* Reserve `size` bytes (blocking per timeout); raises on failure. */
static void *reserve_blocking(EndpointObject *self, size_t size, int64_t timeout_ns)
{
    if (size > self->max_message) {
        char text[128];
        snprintf(text, sizeof text, "message of %zu bytes exceeds max_message (%zu)", size,
                 self->max_message);
        return zp_raise_text(EMSGSIZE, text);
    }
    struct reserve_arg r = {.size = size};
    int rc = zp_block(self, op_reserve, &r, timeout_ns);
    if (rc)
        return zp_raise(rc);
    return r.buf;
}

/* Copy n bytes in as one message; flags: 0 or ZIPC_COMMIT_MORE. */
static int send_bytes(EndpointObject *self, const void *src, size_t n, uint32_t type, unsigned flags,
                      int64_t timeout_ns)
{
    void *dst = reserve_blocking(self, n, timeout_ns);
    if (!dst)
        return -1;
    zp_copy(dst, src, n);
    int rc = self->ops->commit(self->ep, n, type, flags);
    if (rc) {
        zp_raise(rc);
        return -1;
    }
    return 0;
}

/* Copy one bytes-like object in as a message (bytes: no buffer export). */
static int send_one(EndpointObject *self, PyObject *data, uint32_t type, unsigned flags,
                    int64_t timeout_ns)
{
    if (PyBytes_CheckExact(data))
        return send_bytes(self, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data), type, flags, timeout_ns);
    Py_buffer b;
    if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE))
        return -1;
    int rc = send_bytes(self, b.buf, (size_t)b.len, type, flags, timeout_ns);
    PyBuffer_Release(&b);
    return rc;
}

PyObject *zp_ep_send(EndpointObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "type_id", "timeout", NULL};
    PyObject *a[3];
    uint32_t type = 0;
    int64_t tmo;
    if (zp_args("send", args, nargs, kwnames, names, 3, 1, a) || !zp_opt_type_id(a[1], &type) ||
        !zp_opt_timeout(a[2], &tmo) || producer_enter(self))
        return NULL;
    PyObject *data = a[0];
    int rc = send_one(self, data, type, 0, tmo);
    zp_leave(self);
    return rc ? NULL : Py_NewRef(Py_None);
}

#define SEND_MANY_BATCH 64 /* publish at least every 64 messages: bounded latency */

/* One item of send_many: a bytes-like object (sent with `type`), or a
 * (type_id, payload) pair such as a received Message. */
static int send_item(EndpointObject *self, PyObject *item, uint32_t type, unsigned flags, int64_t tmo)
{
    PyObject *payload;
    if (zp_message_parts(item, &type, &payload))
        return send_one(self, payload, type, flags, tmo);
    if (PyTuple_Check(item)) {
        if (PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_TypeError, "send_many() items are bytes-like objects or (type_id, payload) pairs");
            return -1;
        }
        if (!zp_type_id(PyTuple_GET_ITEM(item, 0), &type))
            return -1;
        item = PyTuple_GET_ITEM(item, 1);
    }
    return send_one(self, item, type, flags, tmo);
}

PyObject *zp_ep_send_many(EndpointObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = {"messages", "type_id", "timeout", NULL};
    PyObject *a[3];
    uint32_t type = 0;
    int64_t tmo;
    if (zp_args("send_many", args, nargs, kwnames, names, 3, 1, a) || !zp_opt_type_id(a[1], &type) ||
        !zp_opt_timeout(a[2], &tmo))
        return NULL;
    PyObject *seq = PySequence_Fast(a[0], "send_many() needs an iterable of messages");
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
        if (self->close_requested) { /* close() from another thread: stop here */
            zp_raise(-ECANCELED);
            rc = -1;
        } else {
            rc = send_item(self, PySequence_Fast_GET_ITEM(seq, i), type, flags, tmo);
        }
    }
    self->ops->flush(self->ep); /* an error mid-batch: what was committed goes out */
    zp_leave(self);
    Py_DECREF(seq);
    return rc ? NULL : PyLong_FromSsize_t(n);
}

PyObject *zp_ep_flush(EndpointObject *self, PyObject *Py_UNUSED(ignored))
{
    if (producer_enter(self))
        return NULL;
    int rc = self->ops->flush(self->ep);
    zp_leave(self);
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

/* Reserve and wrap: the Reservation object keeps the endpoint's slot. */
static PyObject *reserve_object(EndpointObject *self, size_t header, size_t size, uint32_t type,
                                int64_t tmo, const void *header_bytes)
{
    uint8_t *buf = reserve_blocking(self, header + size, tmo);
    if (!buf)
        return NULL;
    if (header)
        memcpy(buf, header_bytes, header);
    PyObject *r = zp_reservation_new(self, buf, (Py_ssize_t)size, (Py_ssize_t)header, type);
    if (!r)
        self->ops->abort(self->ep);
    return r;
}

PyObject *zp_ep_reserve(EndpointObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    static const char *const names[] = {"size", "type_id", "timeout", NULL};
    PyObject *a[3];
    Py_ssize_t size = 0;
    uint32_t type = 0;
    int64_t tmo;
    if (zp_args("reserve", args, nargs, kwnames, names, 3, 1, a) || !zp_opt_ssize(a[0], &size) ||
        !zp_opt_type_id(a[1], &type) || !zp_opt_timeout(a[2], &tmo))
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

PyObject *zp_ep_reserve_tensor(EndpointObject *self, PyObject *const *args, Py_ssize_t nargs,
                                        PyObject *kwnames)
{
    static const char *const names[] = {"shape", "dtype", "type_id", "timeout", NULL};
    PyObject *a[4];
    uint32_t type = ZIPC_TYPE_TENSOR;
    int64_t tmo, shape[ZIPC_TENSOR_MAX_NDIM];
    Py_ssize_t ndim;
    int code, bits;
    struct zipc_tensor_header h;
    if (zp_args("reserve_tensor", args, nargs, kwnames, names, 2, 2, a) || !zp_opt_type_id(a[2], &type) ||
        !zp_opt_timeout(a[3], &tmo))
        return NULL;
    PyObject *shape_t = zp_shape_arg(a[0], shape, &ndim), *r = NULL;
    PyObject *dt = shape_t ? zp_dtype_arg(a[1], &code, &bits) : NULL;
    if (dt && zp_tensor_init(&h, code, bits, 1, ndim, shape) == 0 && producer_enter(self) == 0) {
        r = reserve_object(self, sizeof h, (size_t)h.nbytes, type, tmo, &h);
        zp_leave(self);
        if (r && zp_reservation_array((ReservationObject *)r, shape_t, dt))
            Py_CLEAR(r);
    }
    Py_XDECREF(shape_t);
    Py_XDECREF(dt);
    return r;
}

/* One copy of a strided buffer into the ring as a tensor message. */
static int send_tensor_buffer(EndpointObject *self, Py_buffer *b, int code, int bits, uint32_t type, int64_t tmo)
{
    int64_t shape[ZIPC_TENSOR_MAX_NDIM];
    struct zipc_tensor_header h;
    for (int i = 0; i < b->ndim && i < ZIPC_TENSOR_MAX_NDIM; i++)
        shape[i] = b->shape[i];
    if (zp_tensor_init(&h, code, bits, 1, b->ndim, shape))
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
            self->ops->abort(self->ep);
            rc = -1;
        }
        if (rc == 0 && (rc = self->ops->commit(self->ep, sizeof h + h.nbytes, type, 0)))
            zp_raise(rc);
    }
    zp_leave(self);
    return rc ? -1 : 0;
}

PyObject *zp_ep_send_tensor(EndpointObject *self, PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames)
{
    static const char *const names[] = {"tensor", "type_id", "timeout", NULL};
    PyObject *a[3];
    uint32_t type = ZIPC_TYPE_TENSOR;
    int64_t tmo;
    Py_buffer b;
    int code, bits;
    if (zp_args("send_tensor", args, nargs, kwnames, names, 1, 1, a) || !zp_opt_type_id(a[1], &type) ||
        !zp_opt_timeout(a[2], &tmo) || zp_tensor_buffer(a[0], &b, &code, &bits))
        return NULL;
    int rc = send_tensor_buffer(self, &b, code, bits, type, tmo);
    PyBuffer_Release(&b);
    return rc ? NULL : Py_NewRef(Py_None);
}

/* ------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------ */

static int consumer_enter(EndpointObject *self)
{
    if (zp_enter(self))
        return -1;
    if (self->role == ZIPC_ROLE_CONSUMER)
        return 0;
    zp_leave(self);
    zp_raise_text(EOPNOTSUPP, "this endpoint is the producer: it cannot receive");
    return -1;
}

struct drain_arg {
    struct zipc_msg *msgs;
    unsigned max;
};

static int op_drain(EndpointObject *self, void *arg, int64_t timeout_ns)
{
    struct drain_arg *d = arg;
    return self->ops->drain(self->ep, d->msgs, d->max, timeout_ns);
}

static int parse_max(Py_ssize_t max, unsigned limit)
{
    if (max >= 1 && max <= (Py_ssize_t)limit)
        return 0;
    PyErr_Format(PyExc_ValueError, "max_messages must be in 1..%u", limit);
    return -1;
}

#define MAX_DRAIN 65536

/* Room for n messages in *arr; raises MemoryError. */
static int ensure_room(struct zipc_msg **arr, Py_ssize_t *cap, Py_ssize_t n)
{
    if (*cap >= n)
        return 0;
    Py_ssize_t ncap = *cap ? *cap : 16;
    while (ncap < n)
        ncap *= 2;
    struct zipc_msg *m = PyMem_Realloc(*arr, (size_t)ncap * sizeof *m);
    if (!m) {
        PyErr_NoMemory();
        return -1;
    }
    *arr = m;
    *cap = ncap;
    return 0;
}

/* Move up to max stashed messages (the oldest held) to scratch. */
static int unstash(EndpointObject *self, unsigned max)
{
    Py_ssize_t k = self->stash_n < (Py_ssize_t)max ? self->stash_n : (Py_ssize_t)max;
    memcpy(self->scratch, self->stash, (size_t)k * sizeof *self->stash);
    memmove(self->stash, self->stash + k, (size_t)(self->stash_n - k) * sizeof *self->stash);
    self->stash_n -= k;
    return (int)k;
}

/* Put m[0..n) back in front of the stash: the next receive starts with them. */
static void stash(EndpointObject *self, const struct zipc_msg *m, Py_ssize_t n)
{
    memmove(self->stash + n, self->stash, (size_t)self->stash_n * sizeof *self->stash);
    memcpy(self->stash, m, (size_t)n * sizeof *m);
    self->stash_n += n;
}

int zp_room(EndpointObject *self, Py_ssize_t n)
{
    return ensure_room(&self->deferred, &self->deferred_cap, self->held + n);
}

/* Take up to max messages into scratch: the stashed ones first, else wait
 * for one. Returns the count (> 0) or a negative errno (ZP_PYERR: a Python
 * exception is set). Each taken message ends in a View, in give_back or in
 * the stash. */
static int take(EndpointObject *self, unsigned max, int64_t tmo)
{
    Py_ssize_t room = self->held + max; /* every held message may come back to these */
    if (ensure_room(&self->scratch, &self->scratch_cap, max) ||
        ensure_room(&self->stash, &self->stash_cap, room) ||
        ensure_room(&self->deferred, &self->deferred_cap, room))
        return ZP_PYERR;
    int n = unstash(self, max), more;
    if (n > 0) /* and what is already there, without waiting */
        more = (unsigned)n < max ? self->ops->drain(self->ep, self->scratch + n, max - n, ZIPC_TRY) : 0;
    else
        more = zp_block(self, op_drain, &(struct drain_arg){self->scratch, max}, tmo);
    if (more > 0)
        self->held += more;
    return n > 0 ? n + (more > 0 ? more : 0) : more;
}

/* Give back m[0..n) (in view order), which nothing holds any more:
 * -ESTALE if the publisher of a topic overwrote one meanwhile. */
static int give_back(EndpointObject *self, const struct zipc_msg *m, Py_ssize_t n)
{
    if (n <= 0)
        return 0;
    int rc = self->ops->release_views(self->ep, m, (unsigned)n); /* one step when they are the oldest */
    self->held -= n;
    return rc;
}

/* A View of a taken message. */
static PyObject *view_of(EndpointObject *self, const struct zipc_msg *m) { return zp_view_new(self, m); }

typedef PyObject *(*wrap_fn)(EndpointObject *self, const struct zipc_msg *m);

/* A copy of a taken message. */
static PyObject *message_new(EndpointObject *Py_UNUSED(self), const struct zipc_msg *m)
{
    return zp_message_new(m->type, m->data, m->size);
}

/* Copies the publisher overwrote while they were made (a topic subscriber
 * that does not pin its views was lapped) may be torn: they are dropped
 * (items cleared) and reported as a loss of their own, exactly what the
 * caller will not see: Overflow, counted in self->torn. */
static int drop_torn(EndpointObject *self, PyObject **items, int n)
{
    uint64_t bytes = 0;
    for (int k = 0; k < n; k++) {
        Py_CLEAR(items[k]);
        bytes += (ZIPC_FRAME_HEADER + (uint64_t)self->scratch[k].size + ZIPC_FRAME_ALIGN - 1) &
                 ~(uint64_t)(ZIPC_FRAME_ALIGN - 1); /* the frame's ring bytes (abi.h) */
    }
    self->torn.messages += (uint64_t)n;
    self->torn.bytes += bytes;
    self->torn.events++;
    raise_loss(self, (uint64_t)n, bytes, "the publisher overwrote these messages while they were copied");
    return -1;
}

/* Wrap scratch[0..n) into items (copy: copies, given back at once). The
 * first message that cannot be wrapped stays in place with the ones after
 * it (stashed). Returns how many were wrapped; if fewer than n, an
 * exception is set (-1: torn copies, dropped). */
static int wrap_taken(EndpointObject *self, int n, wrap_fn wrap, bool copy, PyObject **items)
{
    int i = 0;
    while (i < n && (items[i] = wrap(self, &self->scratch[i])) != NULL)
        i++;
    stash(self, self->scratch + i, n - i);
    if (copy && give_back(self, self->scratch, i) == -ESTALE)
        return drop_torn(self, items, i);
    return i;
}

/* The errno of a take that returned nothing; at_end: the peer's end or an
 * interrupt end an iteration (NULL without an exception). */
static PyObject *take_failed(EndpointObject *self, int n, bool at_end)
{
    if (at_end && (n == -EPIPE || n == -ECANCELED))
        return NULL;
    return zp_raise_ep(self, n);
}

static PyObject *take_one(EndpointObject *self, int64_t tmo, wrap_fn wrap, bool copy, bool at_end)
{
    if (consumer_enter(self))
        return NULL;
    PyObject *r = NULL;
    int n = take(self, 1, tmo);
    if (n > 0)
        wrap_taken(self, n, wrap, copy, &r);
    zp_leave(self);
    return n > 0 ? r : take_failed(self, n, at_end);
}

/* Up to max messages as a list: the ones before the first that cannot be
 * wrapped (that one raises only when it is the first). */
static PyObject *take_many(EndpointObject *self, Py_ssize_t max, int64_t tmo, wrap_fn wrap, bool copy)
{
    if (parse_max(max, MAX_DRAIN) || consumer_enter(self))
        return NULL;
    int n = take(self, (unsigned)max, tmo), i = 0;
    PyObject *list = n > 0 ? PyList_New(n) : NULL;
    if (list)
        i = wrap_taken(self, n, wrap, copy, PySequence_Fast_ITEMS(list));
    else if (n > 0)
        stash(self, self->scratch, n);
    zp_leave(self);
    if (n <= 0)
        return take_failed(self, n, false);
    if (i < 0) {
        Py_DECREF(list);
        return NULL;
    }
    if (list && i < n) {
        if (i > 0)
            PyErr_Clear(); /* the next call meets that message first */
        Py_SETREF(list, i > 0 ? PyList_GetSlice(list, 0, i) : NULL);
    }
    return list;
}

/* The arguments of a method taking (timeout=None) / (max_messages=..., timeout=None). */
#define FASTCALL_ARGS PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames
#define ARGS_OF(fname) fname, args, nargs, kwnames

static int parse_timeout_only(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                              int64_t *tmo)
{
    static const char *const names[] = {"timeout", NULL};
    PyObject *a[1];
    return zp_args(fname, args, nargs, kwnames, names, 1, 0, a) == 0 && zp_opt_timeout(a[0], tmo);
}

static int parse_max_timeout(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                             Py_ssize_t *max, int64_t *tmo)
{
    static const char *const names[] = {"max_messages", "timeout", NULL};
    PyObject *a[2];
    return zp_args(fname, args, nargs, kwnames, names, 2, 0, a) == 0 && zp_opt_ssize(a[0], max) &&
           zp_opt_timeout(a[1], tmo);
}

PyObject *zp_ep_recv(EndpointObject *self, FASTCALL_ARGS)
{
    int64_t tmo;
    return parse_timeout_only(ARGS_OF("recv"), &tmo) ? take_one(self, tmo, message_new, true, false) : NULL;
}

/* Iteration ends when the producer is gone (and everything was received),
 * on an interrupt, or once the channel is closed. */
PyObject *zp_ep_iternext(EndpointObject *self)
{
    return closed_for_calls(self) ? NULL : take_one(self, ZIPC_FOREVER, message_new, true, true);
}

PyObject *zp_ep_view(EndpointObject *self, FASTCALL_ARGS)
{
    int64_t tmo;
    return parse_timeout_only(ARGS_OF("view"), &tmo) ? take_one(self, tmo, view_of, false, false) : NULL;
}

PyObject *zp_ep_recv_tensor(EndpointObject *self, FASTCALL_ARGS)
{
    int64_t tmo;
    return parse_timeout_only(ARGS_OF("recv_tensor"), &tmo) ? take_one(self, tmo, zp_tensor_array, false, false)
                                                           : NULL;
}

static PyObject *object_copy(EndpointObject *self, const struct zipc_msg *m) { return zp_object_of(self, m, true); }
static PyObject *object_in_place(EndpointObject *self, const struct zipc_msg *m)
{
    return zp_object_of(self, m, false);
}

/* _take_object(timeout, copy): Queue.get's one C call (zp_object_of). */
PyObject *zp_ep_take_object(EndpointObject *self, FASTCALL_ARGS)
{
    static const char *const names[] = {"timeout", "copy", NULL};
    PyObject *a[2];
    int64_t tmo;
    if (zp_args("_take_object", args, nargs, kwnames, names, 2, 2, a) || !zp_opt_timeout(a[0], &tmo))
        return NULL;
    return take_one(self, tmo, PyObject_IsTrue(a[1]) ? object_copy : object_in_place, false, false);
}

/* The fast path: one C loop, one Message copy each. */
PyObject *zp_ep_recv_many(EndpointObject *self, FASTCALL_ARGS)
{
    Py_ssize_t max = 1024;
    int64_t tmo;
    return parse_max_timeout(ARGS_OF("recv_many"), &max, &tmo) ? take_many(self, max, tmo, message_new, true) : NULL;
}

PyObject *zp_ep_recv_tensors(EndpointObject *self, FASTCALL_ARGS)
{
    Py_ssize_t max = 64;
    int64_t tmo;
    return parse_max_timeout(ARGS_OF("recv_tensors"), &max, &tmo) ? take_many(self, max, tmo, zp_tensor_array, false)
                                                                  : NULL;
}

PyObject *zp_ep_drain(EndpointObject *self, FASTCALL_ARGS)
{
    Py_ssize_t max = 64;
    int64_t tmo;
    if (!parse_max_timeout(ARGS_OF("drain"), &max, &tmo))
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

static PyObject *Channel_get_role(EndpointObject *self, void *Py_UNUSED(c))
{
    return PyUnicode_FromString(self->role == ZIPC_ROLE_PRODUCER ? "producer" : "consumer");
}
PyObject *zp_ep_get_capacity(EndpointObject *self, void *Py_UNUSED(c)) { return PyLong_FromSize_t(self->capacity); }
PyObject *zp_ep_get_max(EndpointObject *self, void *Py_UNUSED(c)) { return PyLong_FromSize_t(self->max_message); }
PyObject *zp_ep_get_peer_pid(EndpointObject *self, void *Py_UNUSED(c)) { return PyLong_FromLong(self->peer_pid); }
PyObject *zp_ep_get_closed(EndpointObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(closed_for_calls(self));
}

static PyGetSetDef Channel_getset[] = {
    {"role", (getter)Channel_get_role, NULL, "'producer' or 'consumer'.", NULL},
    {"peer_pid", (getter)zp_ep_get_peer_pid, NULL, "Peer process id from the handshake (0 if unknown).", NULL},
    ZP_GET_ENDPOINT,
    {NULL},
};

static PyMethodDef Channel_methods[] = {
    {"listen", WITH_KEYWORDS(Channel_listen), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "listen(name, capacity=1<<20, *, role=None, timeout=10.0, any_uid=False, peer_uid=None, "
     "socket_mode=0o600, label=None, spin=None)\n--\n\n"
     "Create a channel under `name` and wait for one peer. A name without '/' is an abstract "
     "name (nothing on disk); with a '/' it is a socket path. The listener is the consumer "
     "unless role='producer'. timeout: seconds (default DEFAULT_TIMEOUT_NS, 10 s); None waits "
     "forever. label: the segment's label (tools show it)."},
    {"connect", WITH_KEYWORDS(Channel_connect), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "connect(name, *, timeout=10.0, any_uid=False, peer_uid=None, max_segment=None, spin=None)\n--\n\n"
     "Connect to the listener under `name` (a name or a socket path), retrying until it appears "
     "or the timeout elapses (default 10 s; None: forever). max_segment: the largest shared "
     "segment accepted (default DEFAULT_MAX_SEGMENT); a larger one raises zipc.Error (EFBIG)."},
    ZP_M_ENDPOINT("the peer sees PeerGone after draining."),
    ZP_M_PRODUCER,
    ZP_M_CONSUMER,
    {NULL},
};

static PyObject *Channel_new_refused(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args, (void)kw;
    PyErr_Format(PyExc_TypeError, "use %s.listen() or %s.connect()", type->tp_name, type->tp_name);
    return NULL;
}

PyObject *zp_ep_iter(PyObject *self) { return Py_NewRef(self); }

PyTypeObject ZpChannel_Type = {
    ZP_ENDPOINT_TYPE("zipc._zipc.Channel", "One endpoint of a zipc channel (producer or consumer)."),
    .tp_iter = zp_ep_iter,
    .tp_iternext = (iternextfunc)zp_ep_iternext,
    .tp_methods = Channel_methods,
    .tp_getset = Channel_getset,
    .tp_new = Channel_new_refused,
};

/* ------------------------------------------------------------------------
 * Module
 * ------------------------------------------------------------------------ */

/* PyModule_Add (3.13) for older Pythons: steals obj, which may be NULL. */
static int zp_add_owned(PyObject *m, const char *name, PyObject *obj)
{
    int rc = obj ? PyModule_AddObjectRef(m, name, obj) : -1;
    Py_XDECREF(obj);
    return rc;
}

/* A C errno argument: an int, either sign. */
static int errno_arg(PyObject *arg, int *e)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *e = v < -4096 || v > 4096 ? 0 : (int)v;
    return 0;
}

static PyObject *mod_strerror(PyObject *Py_UNUSED(m), PyObject *arg)
{
    int e;
    return errno_arg(arg, &e) ? NULL : PyUnicode_FromString(zipc_strerror(e));
}

static PyObject *mod_err_name(PyObject *Py_UNUSED(m), PyObject *arg)
{
    int e;
    return errno_arg(arg, &e) ? NULL : PyUnicode_FromString(zipc_err_name(e));
}

static PyObject *mod_error_class(PyObject *Py_UNUSED(m), PyObject *arg)
{
    int e;
    return errno_arg(arg, &e) ? NULL : Py_NewRef(error_class(e < 0 ? -e : e));
}

/* ERRNO_MAP: ((name, errno, text), ...) of every code zipc gives a meaning,
 * expanded from ZIPC_ERRNO_MAP. */
static int add_errno_map(PyObject *m)
{
#define ZP_ERRNO_ITEM(name, text) Py_BuildValue("(sis)", #name, name, text),
    PyObject *items[] = {ZIPC_ERRNO_MAP(ZP_ERRNO_ITEM)};
#undef ZP_ERRNO_ITEM
    Py_ssize_t n = (Py_ssize_t)(sizeof items / sizeof items[0]);
    PyObject *t = PyTuple_New(n);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (t && items[i])
            PyTuple_SET_ITEM(t, i, items[i]);
        else
            Py_XDECREF(items[i]);
        if (!items[i])
            Py_CLEAR(t);
    }
    return t ? zp_add_owned(m, "ERRNO_MAP", t) : -1;
}

static PyMethodDef module_methods[] = {
    {"strerror", mod_strerror, METH_O, "strerror(errno) -> str: zipc_strerror(), the C library's text."},
    {"err_name", mod_err_name, METH_O, "err_name(errno) -> str: zipc_err_name(), e.g. 'EAGAIN'."},
    {"error_class", mod_error_class, METH_O, "error_class(errno) -> the zipc exception raised for it."},
    {"tensor_info", zp_tensor_info, METH_O,
     "tensor_info(buffer) -> (code, bits, lanes, shape, strides, data_offset, nbytes): parse and "
     "validate a tensor payload's header. Raises CorruptedError."},
    {"tensor_header", zp_tensor_header, METH_VARARGS,
     "tensor_header(code, bits, lanes, shape) -> bytes: a C-contiguous tensor header."},
    {"_c_producer", zp_c_producer, METH_O,
     "_c_producer(argv) -> int: examples/c_producer.c's main, built into this extension "
     "(the benchmark's C rows)."},
    {NULL},
};

#define ZP_STATE_NREFS (16 + sizeof(((zp_state *)0)->dtypes) / sizeof(((zp_state *)0)->dtypes[0]))

/* Every reference the state holds, for traverse and clear. */
static size_t state_refs(zp_state *st, PyObject **refs[ZP_STATE_NREFS])
{
    PyObject **fixed[] = {&st->err_base, &st->err_timeout, &st->err_peer_gone, &st->err_cancelled,
                          &st->err_abi, &st->err_corrupted, &st->err_invalid, &st->err_permission,
                          &st->err_overflow, &st->err_stale, &st->err_conn_reset, &st->tensor_args, &st->np_ndarray, &st->dtype_args, &st->last_shape,
                          &st->str_read_only};
    _Static_assert(sizeof fixed / sizeof fixed[0] == 16, "ZP_STATE_NREFS counts these");
    size_t n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        refs[n++] = fixed[i];
    for (size_t i = 0; i < sizeof st->dtypes / sizeof st->dtypes[0]; i++)
        refs[n++] = &st->dtypes[i].dtype;
    return n;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg)
{
    PyObject **refs[ZP_STATE_NREFS];
    for (size_t i = 0, n = state_refs(PyModule_GetState(m), refs); i < n; i++)
        Py_VISIT(*refs[i]);
    return 0;
}

static int module_clear(PyObject *m)
{
    PyObject **refs[ZP_STATE_NREFS];
    for (size_t i = 0, n = state_refs(PyModule_GetState(m), refs); i < n; i++)
        Py_CLEAR(*refs[i]);
    return 0;
}

static void module_free(void *m)
{
    module_clear(m);
    zp_message_freelist_clear();
}

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "zipc._zipc", "zipc C extension (see the zipc package).", sizeof(zp_state),
    module_methods, NULL, module_traverse, module_clear, module_free,
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

static int add_errors(PyObject *m, zp_state *st)
{
    st->err_base = new_error(m, "Error", Py_NewRef(PyExc_OSError),
                             "Base of every zipc error: an OSError with .errno and the C library's text.");
    if (!st->err_base)
        return -1;
#define SUB(var, name, builtin, doc) \
    if (!(st->var = new_error(m, name, builtin ? PyTuple_Pack(2, st->err_base, builtin) : PyTuple_Pack(1, st->err_base), doc))) return -1
    SUB(err_timeout, "Timeout", PyExc_TimeoutError, "The timeout elapsed (ETIMEDOUT), or timeout=0 would block (EAGAIN).");
    SUB(err_peer_gone, "PeerGone", PyExc_BrokenPipeError, "The peer closed or died (EPIPE); a consumer gets it after draining.");
    SUB(err_abi, "AbiMismatchError", NULL, "The peer speaks another zipc ABI (EPROTO).");
    SUB(err_corrupted, "CorruptedError", NULL, "The shared segment or a message is corrupted or hostile (EBADMSG).");
    SUB(err_invalid, "InvalidArgument", PyExc_ValueError, "Invalid argument (EINVAL, ENAMETOOLONG), message too large (EMSGSIZE), or a call the endpoint's role does not have (EOPNOTSUPP).");
    SUB(err_cancelled, "Cancelled", NULL, "The blocked call was woken by interrupt() or close() from another thread (ECANCELED).");
    SUB(err_permission, "PermissionDenied", PyExc_PermissionError, "Peer credentials refused (EPERM, EACCES).");
    SUB(err_overflow, "Overflow", NULL, "A topic subscriber was lapped (EOVERFLOW): .messages and .bytes say exactly "
        "what it lost; the next call goes on after the gap.");
    SUB(err_stale, "Stale", NULL, "A topic view was overwritten by the publisher while it was held (ESTALE): what "
        "was read through it may be torn; discard it.");
    SUB(err_conn_reset, "ConnectionReset", PyExc_ConnectionResetError, "An rpc call's worker died serving it "
        "(ECONNRESET), or dropped it unanswered; an idempotent call is run once more first.");
#undef SUB
    return 0;
}

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
    if (PyType_Ready(t) < 0)
        return -1;
    return PyModule_AddObjectRef(m, name, (PyObject *)t);
}

/* match msg: case Message(type_id, data): ... */
static int add_match_args(PyTypeObject *t, const char *first, const char *second)
{
    PyObject *args = Py_BuildValue("(ss)", first, second);
    int rc = args ? PyDict_SetItemString(t->tp_dict, "__match_args__", args) : -1;
    Py_XDECREF(args);
    PyType_Modified(t);
    return rc;
}

static int add_constants(PyObject *m)
{
    static const struct { const char *name; long long v; } c[] = {
        {"TYPE_BYTES", ZIPC_TYPE_BYTES}, {"TYPE_STR", ZIPC_TYPE_STR}, {"TYPE_JSON", ZIPC_TYPE_JSON},
        {"TYPE_TENSOR", ZIPC_TYPE_TENSOR}, {"TYPE_LIST", ZIPC_TYPE_LIST},
        {"TYPE_RESERVED_MIN", ZIPC_TYPE_RESERVED_MIN}, {"TENSOR_DATA_OFFSET", ZIPC_TENSOR_DATA_OFFSET},
        {"TENSOR_MAX_NDIM", ZIPC_TENSOR_MAX_NDIM}, {"LIST_ALIGN", ZIPC_LIST_ALIGN},
        {"DEFAULT_TIMEOUT_NS", ZIPC_DEFAULT_TIMEOUT_NS}, {"DEFAULT_SPIN_NS", ZIPC_DEFAULT_SPIN_NS},
        {"DEFAULT_SOCKET_MODE", ZIPC_DEFAULT_SOCKET_MODE},
        {"DEFAULT_MAX_SEGMENT", (long long)ZIPC_DEFAULT_MAX_SEGMENT}, {"NAME_MAX", ZIPC_NAME_MAX},
        {"RPC_DEFAULT_REPLY", ZIPC_RPC_DEFAULT_REPLY}, {"MIN_CAPACITY", ZIPC_MIN_CAPACITY}, {"MAX_CAPACITY", (long long)ZIPC_MAX_CAPACITY},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (zp_add_owned(m, c[i].name, PyLong_FromLongLong(c[i].v)) < 0)
            return -1;
    if (zp_add_owned(m, "ABI_VERSION", PyLong_FromUnsignedLong(zipc_abi_version())) < 0)
        return -1;
    return PyModule_AddStringConstant(m, "C_VERSION", zipc_version());
}

PyMODINIT_FUNC PyInit__zipc(void);
PyMODINIT_FUNC PyInit__zipc(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    zp_state *st = PyModule_GetState(m);
    if (!(st->str_read_only = PyUnicode_InternFromString("the view is read-only")) ||
        !(st->dtype_args = PyDict_New()) || add_errors(m, st) || add_type(m, &ZpMessage_Type, "Message") ||
        add_match_args(&ZpMessage_Type, "type_id", "data") || add_constants(m) || add_errno_map(m) ||
        add_type(m, &ZpChannel_Type, "Channel") ||
        add_type(m, &ZpView_Type, "View") || add_type(m, &ZpBatch_Type, "Batch") ||
        add_type(m, &ZpReservation_Type, "Reservation") || add_type(m, &ZpPublisher_Type, "Publisher") ||
        add_type(m, &ZpSubscriber_Type, "Subscriber") || add_type(m, &ZpQueue_Type, "Queue") ||
        add_type(m, &ZpRpcClient_Type, "RpcClient") || add_type(m, &ZpRpcWorker_Type, "RpcWorker") ||
        add_type(m, &ZpRequest_Type, "Request") || add_type(m, &ZpStore_Type, "Store") ||
        add_type(m, &ZpStoreTensor_Type, "StoreTensor") || zp_store_add_dtypes(m)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
