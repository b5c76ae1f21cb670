/* Internal interfaces of the zipc CPython extension (zp_ prefix).
 *
 * Objects:
 *   Endpoint     the object of one C endpoint: a Channel (either role), a
 *                topic's Publisher (producer) or Subscriber (consumer), a
 *                Queue member (either role). One struct and one set of
 *                methods (zp_ep_*) for all: the kind's C calls come through
 *                its zp_ops. Every method takes the endpoint's busy flag.
 *   View         a message viewed in place (consumer); buffer + DLPack exporter
 *   Batch        the views of one drain
 *   Reservation  a writable slot in the ring (producer); buffer exporter
 *
 * Lifetime rule: "exports keep the slot alive". A View is *live* while its
 * own claim holds (until release()/__exit__, or its garbage collection) or
 * any export of it (buffer, DLPack capsule) is alive; a Reservation is
 * pinned while exported. Each live object holds one *pin* on its channel.
 *
 * A View keeps the zipc_msg the core gave it; when it stops being live it
 * gives its message back with zipc_channel_release_view (the core keeps the
 * in-order ledger): a view alive never sees its slot reused, and holding one
 * array does not stall the slots viewed after it once the older ones go.
 * A view that dies while another thread is inside a call on the endpoint is
 * queued (`deferred`) and given back by that thread between two waits or on
 * leaving the call.
 *
 * A receive that takes a message it cannot return (recv_tensor on a message
 * that is not a tensor, or a failed allocation) leaves it in place: it goes to
 * the `stash`, and the next receive starts with it.
 *
 * close() with pins outstanding shuts the endpoint down at once (the peer
 * sees PeerGone, later calls raise) and unmaps when the last pin goes: the
 * mapping outlives every pointer into it. close() (or interrupt()) from
 * another thread while a call runs wakes that call with
 * zipc_channel_interrupt (it raises Cancelled); the call closes the endpoint
 * as it leaves, and close() waits for that.
 */
#ifndef ZIPC_PY_H
#define ZIPC_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "zipc.h"
#include "zipc/tensor.h"
#include "zipc/types.h"

/* ---- Endpoint ----------------------------------------------------------- */
struct ReservationObject;
struct EndpointObject;

/* The C calls of one kind of endpoint, on its handle (`ep`). A producer
 * kind has reserve..flush, a consumer kind drain..release_views; shutdown
 * is NULL when the kind has none (close then waits for the last pin). */
typedef struct zp_ops {
    int (*reserve)(void *ep, size_t size, void **buf, int64_t timeout_ns);
    int (*commit)(void *ep, size_t size, uint32_t type, unsigned flags);
    int (*abort)(void *ep);
    int (*flush)(void *ep);
    int (*drain)(void *ep, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns);
    int (*release_view)(void *ep, const struct zipc_msg *msg);
    int (*release_views)(void *ep, const struct zipc_msg *msgs, unsigned n);
    int (*interrupt)(void *ep);
    int (*fd)(void *ep);
    int (*shutdown)(void *ep);
    int (*close)(void *ep);
    PyObject *(*stats)(struct EndpointObject *self); /* a new dict, or NULL with an exception */
    /* the loss of the last -EOVERFLOW (NULL: the kind never overflows) */
    int (*last_loss)(const void *ep, uint64_t *messages, uint64_t *bytes);
    /* a viewed message's delivery: producer lane and attempt (NULL: the kind has none) */
    void (*delivery)(const struct zipc_msg *m, unsigned *producer, unsigned *attempt);
} zp_ops;

typedef struct EndpointObject {
    PyObject_HEAD
    void *ep;                       /* the C endpoint; NULL once really closed */
    const zp_ops *ops;
    int busy;                       /* atomic: a call runs on this endpoint */
    unsigned long owner;            /* the thread holding busy (valid while busy) */
    int role;                       /* ZIPC_ROLE_PRODUCER / ZIPC_ROLE_CONSUMER */
    bool closing;                   /* closed for calls; the real close waits for pins == 0 */
    bool close_requested;           /* close() ran while busy: the call in progress closes on leaving */
    bool abort_pending;             /* a reservation died while the endpoint was busy */
    int close_err;                  /* what the real close said (a queue producer's lost messages) */
    int64_t linger_ns;              /* queue producer: how long close waits for a consumer (the open's timeout) */
    Py_ssize_t pins;
    struct ReservationObject *res;  /* the open reservation (borrowed), or NULL */
    size_t capacity, max_message;
    int peer_pid;
    int fd;                         /* pollable fd, -1 until fileno() */
    /* consumer: every message viewed and not yet given back is held by a
     * View, stashed, or deferred; each array below has room for all of them */
    Py_ssize_t held;
    struct zipc_msg *scratch;       /* drain buffer */
    Py_ssize_t scratch_cap;
    struct zipc_msg *stash;         /* taken, not handed out: the next receive starts here */
    Py_ssize_t stash_n, stash_cap;
    struct zipc_msg *deferred;      /* views that died while busy, to give back */
    Py_ssize_t deferred_n, deferred_cap;
    uint64_t stale_unreported;      /* views given back overwritten with nobody to tell (-ESTALE) */
    /* topic subscribers: the loss of the last Overflow raised, and what the
     * binding itself dropped (copies found overwritten, see wrap_taken) */
    struct zp_loss { uint64_t messages, bytes, events; } last_loss, torn;
    PyObject *weakreflist;
} EndpointObject;

extern PyTypeObject ZpChannel_Type;

/* A new endpoint object of `type` over the C endpoint `ep` (closed with
 * ops->close if this fails). */
PyObject *zp_endpoint_new(PyTypeObject *type, void *ep, const zp_ops *ops, int role, size_t capacity,
                          size_t max_message, int peer_pid);

/* Take / drop the busy flag: every method that touches the endpoint runs
 * between them. zp_enter raises ValueError (closed) or RuntimeError (used
 * from another thread at the same time). zp_leave first runs the deferred
 * work (releases, an abort, a requested close). */
int zp_enter(EndpointObject *self);
/* Take the flag without raising (deallocators); false if busy. */
bool zp_try_busy(EndpointObject *self);
void zp_leave(EndpointObject *self);
void zp_pin(EndpointObject *self);
/* Drop a pin; `msg`: the message a dying View gives back (NULL for a
 * reservation's pin). Runs now (returns what giving it back returned:
 * -ESTALE for an overwritten topic view), or in the thread inside a call
 * (returns 0; a stale one is counted in stale_unreported). */
int zp_unpin(EndpointObject *self, const struct zipc_msg *msg);
/* Room in `deferred` for n more held messages (a View's or a Request's
 * give-back may have to wait there); the caller then adds them to `held`.
 * Raises MemoryError. */
int zp_room(EndpointObject *self, Py_ssize_t n);

/* Raise the exception for a negative errno; returns NULL. */
PyObject *zp_raise(int err);
/* zp_raise, the text naming the endpoint `fspath` (bytes, or NULL). */
PyObject *zp_raise_path(int err, PyObject *fspath);
/* zp_raise for a call on `self`: an Overflow carries the loss (.messages,
 * .bytes), which becomes self->last_loss. */
PyObject *zp_raise_ep(EndpointObject *self, int err);
/* Convert a Python timeout (None, or seconds >= 0) to nanoseconds. */
int zp_timeout(PyObject *obj, int64_t *ns);
int zp_type_id(PyObject *obj, void *out);
/* METH_FASTCALL | METH_KEYWORDS arguments: out[i] is the parameter names[i]
 * (borrowed), or NULL when not given. names ends with NULL; the first npos
 * may come by position, the first `required` must come. Raises TypeError. */
int zp_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
            const char *const *names, int npos, int required, PyObject **out);
/* Optional arguments, NULL when not given: 1 on success, 0 raised. */
int zp_opt_timeout(PyObject *obj, int64_t *ns);
int zp_opt_type_id(PyObject *obj, uint32_t *type);
int zp_opt_ssize(PyObject *obj, Py_ssize_t *v);

/* One blocking operation: called with timeout ZIPC_TRY under the GIL, then
 * in slices of at most 200 ms without the GIL. */
typedef int (*zp_op)(EndpointObject *self, void *arg, int64_t timeout_ns);
#define ZP_PYERR INT_MIN /* a Python exception (signal handler) is set */
int zp_block(EndpointObject *self, zp_op op, void *arg, int64_t timeout_ns);
/* A new reference to an attribute of zipc._arrays (the NumPy glue). */
PyObject *zp_arrays_attr(const char *name);
/* memcpy that drops the GIL for copies of ZP_COPY_NOGIL bytes or more. */
#define ZP_COPY_NOGIL (1u << 18)
void zp_copy(void *dst, const void *src, size_t n);

/* ---- Message (_message.c) ---------------------------------------------- */
extern PyTypeObject ZpMessage_Type;
/* A Message copied from `size` bytes at `data`. */
PyObject *zp_message_new(uint32_t type, const void *data, size_t size);
/* obj's type id and payload (borrowed) if it is a Message. */
bool zp_message_parts(PyObject *obj, uint32_t *type, PyObject **data);
/* Free the Message objects kept for reuse (module teardown). */
void zp_message_freelist_clear(void);

/* ---- View and Batch --------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    EndpointObject *owner;
    struct zipc_msg msg;    /* as the core gave it: release_view takes it back */
    Py_ssize_t exports;     /* buffer exports + DLPack capsules alive */
    bool claimed;           /* until release() / __exit__ */
    bool pinned;
    bool disowned;          /* its message went back to the stash: never released by it */
    int8_t tensor;          /* 0 not parsed yet, 1 valid tensor, -1 not a tensor */
    struct zipc_tensor_header th; /* validated local copy when tensor == 1 */
} ViewObject;

extern PyTypeObject ZpView_Type;
extern PyTypeObject ZpBatch_Type;
PyObject *zp_view_new(EndpointObject *owner, const struct zipc_msg *msg);
PyObject *zp_batch_new(PyObject *views_tuple);
/* A read-only ndarray over a taken tensor message, without copying; its base
 * is a View, claimed as long as the array lives. NULL with an exception
 * (TypeError: not a tensor) and nothing consumed: the caller stashes it. */
PyObject *zp_tensor_array(EndpointObject *owner, const struct zipc_msg *msg);
/* Queue.get's fast path: a tensor as an array (a copy, or in place and
 * held), bytes as a copy (copy only), any other message as its View. */
PyObject *zp_object_of(EndpointObject *owner, const struct zipc_msg *msg, bool copy);
PyObject *zp_ep_take_object(EndpointObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);

/* ---- DLPack export (_dlpack.c) -------------------------------------------
 * Read-only CPU memory of an owner object (a View, a store's Tensor) as a
 * "dltensor" capsule, or a "dltensor_versioned" one with the read-only flag
 * when the consumer asks max_version >= (1, 0). */
#define ZP_DL_MAX_NDIM 8 /* ZIPC_TENSOR_MAX_NDIM, ZIPC_STORE_MAX_NDIM */
typedef struct {
    void *data;
    int32_t ndim;
    uint8_t code, bits;     /* DLPack's (zipc_dtype_code's) numbering */
    uint16_t lanes;
    int64_t shape[ZP_DL_MAX_NDIM];
    int64_t strides[ZP_DL_MAX_NDIM]; /* in elements */
} zp_dl_desc;
/* Called under the GIL when the consumer frees a capsule's tensor (or an
 * unconsumed capsule dies), before the capsule's reference on owner goes. */
typedef void (*zp_dl_release)(PyObject *owner);
/* __dlpack__(*, stream, max_version, dl_device, copy): 1 versioned, 0
 * legacy, -1 raised (BufferError: a stream, copy=True, not the CPU). */
int zp_dlpack_args(PyObject *args, PyObject *kw);
/* A capsule over d (copied), holding a reference on owner until its tensor
 * is freed; release(owner) then. The caller counts the export on success. */
PyObject *zp_dlpack_capsule(PyObject *owner, zp_dl_release release, const zp_dl_desc *d, int versioned);
/* __dlpack_device__: (1, 0), the CPU. */
PyObject *zp_dlpack_device(PyObject *self, PyObject *ignored);

/* ---- Reservation -------------------------------------------------------- */
typedef struct ReservationObject {
    PyObject_HEAD
    EndpointObject *owner;
    uint8_t *data;          /* the whole reserved payload */
    Py_ssize_t size;        /* bytes the caller may write (after data_offset) */
    Py_ssize_t data_offset; /* tensor reservations: header bytes before the data */
    uint32_t type;
    Py_ssize_t exports;
    bool open;
    bool pinned;
    bool array_export;      /* r->array counts as one export until it is known dead */
    PyObject *array;        /* reserve_tensor's ndarray, dropped before commit */
} ReservationObject;

extern PyTypeObject ZpReservation_Type;
PyObject *zp_reservation_new(EndpointObject *owner, void *buf, Py_ssize_t size,
                             Py_ssize_t data_offset, uint32_t type);
/* close(): the C close drops the reservation; the object learns it here. */
void zp_reservation_detach(ReservationObject *res);
/* reserve_tensor: r->array = a writable ndarray over the slot. On failure
 * the reservation is aborted and -1 returned with the exception set. */
int zp_reservation_array(ReservationObject *r, PyObject *shape, PyObject *dtype);

/* ---- tensors (_tensor.c) ----------------------------------------------- */
/* Parse and validate a tensor header at the start of a payload of `size`
 * bytes into *h (a local copy). Raises CorruptedError and returns -1. */
int zp_tensor_parse(const uint8_t *payload, uint64_t size, struct zipc_tensor_header *h);
/* (code, bits, lanes, shape, strides, data_offset, nbytes) */
PyObject *zp_tensor_tuple(const struct zipc_tensor_header *h);
/* dtype triple and shape -> a C-contiguous header; raises ValueError. */
int zp_tensor_init(struct zipc_tensor_header *h, int code, int bits, int lanes, Py_ssize_t ndim,
                   const int64_t *shape);
/* A sequence of at most ZIPC_TENSOR_MAX_NDIM dimensions >= 0; raises. */
int zp_parse_shape(PyObject *obj, int64_t *shape, Py_ssize_t *ndim);
/* An int or a sequence of dimensions: parsed, and as a tuple (new reference). */
PyObject *zp_shape_arg(PyObject *obj, int64_t *shape, Py_ssize_t *ndim);
/* A NumPy dtype argument (np.float32, "f4", a dtype): the dtype (new
 * reference) and its DLPack (code, bits); cached. Raises ValueError. */
PyObject *zp_dtype_arg(PyObject *obj, int *code, int *bits);
/* numpy.ndarray(shape, dtype, base[, offset]) (borrowed offset: NULL for 0). */
PyObject *zp_ndarray(PyObject *shape, PyObject *dtype, PyObject *base, PyObject *offset);
/* obj's buffer and DLPack (code, bits): its own buffer when it exports a
 * plain numeric format, else through numpy.asarray. Raises. */
int zp_tensor_buffer(PyObject *obj, Py_buffer *b, int *code, int *bits);
PyObject *zp_tensor_info(PyObject *module, PyObject *buffer);
PyObject *zp_tensor_header(PyObject *module, PyObject *args);

/* ---- The methods every kind shares (_zipc.c) -------------------------------
 * Each type's method table lists the entries it has (ZP_M_*, ZP_GET_*). */
#define FASTCALL_ARGS PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames
PyObject *zp_ep_close(EndpointObject *self, PyObject *ignored);
PyObject *zp_ep_interrupt(EndpointObject *self, PyObject *ignored);
void zp_ep_dealloc(EndpointObject *self);
PyObject *zp_ep_enter(PyObject *self, PyObject *ignored);
PyObject *zp_ep_exit(EndpointObject *self, PyObject *args);
PyObject *zp_ep_fileno(EndpointObject *self, PyObject *ignored);
PyObject *zp_ep_stats(EndpointObject *self, PyObject *ignored);
PyObject *zp_ep_send(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_send_many(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_flush(EndpointObject *self, PyObject *ignored);
PyObject *zp_ep_reserve(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_reserve_tensor(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_send_tensor(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_recv(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_recv_many(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_recv_tensor(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_recv_tensors(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_view(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_drain(EndpointObject *self, FASTCALL_ARGS);
PyObject *zp_ep_iter(PyObject *self);
PyObject *zp_ep_iternext(EndpointObject *self);
PyObject *zp_ep_get_capacity(EndpointObject *self, void *c);
PyObject *zp_ep_get_peer_pid(EndpointObject *self, void *c);
PyObject *zp_ep_get_max(EndpointObject *self, void *c);
PyObject *zp_ep_get_closed(EndpointObject *self, void *c);
/* A blocking open that may be retried (subscribe): runs open(arg, slice)
 * without the GIL in slices of at most 200 ms, checking signals between
 * them, until it returns something other than -ETIMEDOUT/-ENOENT/-EINTR or
 * the deadline passes. ZP_PYERR: a signal handler raised. */
int zp_open_sliced(int (*open)(void *arg, int64_t timeout_ns), void *arg, int64_t timeout_ns);
/* The keyword options every open shares (spin, any_uid, peer_uid), into *o. */
int zp_parse_spin(PyObject *spin, struct zipc_options *o);
int zp_parse_peer_uid(PyObject *peer_uid, int any_uid, struct zipc_options *o);
int zp_parse_max_segment(PyObject *obj, uint64_t *out);
/* timeout not given (NULL): the C default, ZIPC_DEFAULT_TIMEOUT_NS. */
int zp_open_timeout(PyObject *timeout, int64_t *ns);
/* ZIPC_MIN_CAPACITY..ZIPC_MAX_CAPACITY, else ValueError. */
int zp_check_capacity(Py_ssize_t capacity);

/* METH_VARARGS | METH_KEYWORDS or METH_FASTCALL | METH_KEYWORDS functions in a PyMethodDef slot. */
#define WITH_KEYWORDS(f) (PyCFunction)(void (*)(void))(f)
#define FASTCALL_KW METH_FASTCALL | METH_KEYWORDS

#define ZP_M_ENDPOINT(closes)                                                                          \
    {"close", (PyCFunction)zp_ep_close, METH_NOARGS,                                               \
     "Close the endpoint; " closes " With views or exports still alive, the unmapping waits for "  \
     "the last of them. From another thread while a call is blocked (recv, send, ...): wakes it " \
     "(it raises Cancelled; iteration just ends), waits for it to leave, then closes."},          \
    {"interrupt", (PyCFunction)zp_ep_interrupt, METH_NOARGS,                                       \
     "Wake the call blocked on this endpoint, from any thread: it raises Cancelled (iteration "   \
     "ends). If none is blocked, the next call that has to wait does (the interrupt is kept "     \
     "until one call takes it). A message already there is still received first."},              \
    {"__enter__", (PyCFunction)zp_ep_enter, METH_NOARGS, NULL},                                    \
    {"__exit__", (PyCFunction)zp_ep_exit, METH_VARARGS, NULL},                                     \
    {"fileno", (PyCFunction)zp_ep_fileno, METH_NOARGS,                                             \
     "A pollable fd: readable when the awaited condition may hold. Once created, every call that " \
     "would block with timeout=0 arms it: try, on Timeout wait for readability, try again."},     \
    {"stats", (PyCFunction)zp_ep_stats, METH_NOARGS, "This endpoint's counters as a dict."}

#define ZP_M_PRODUCER                                                                                  \
    {"send", WITH_KEYWORDS(zp_ep_send), FASTCALL_KW,                                               \
     "send(data, type_id=0, timeout=None)\n--\n\nCopy a bytes-like object in as one message."},     \
    {"send_many", WITH_KEYWORDS(zp_ep_send_many), FASTCALL_KW,                                     \
     "send_many(messages, type_id=0, timeout=None)\n--\n\n"                                         \
     "Send each message of an iterable, published in batches of 64: a bytes-like object (sent "   \
     "with type_id) or a (type_id, payload) pair such as a received Message. Returns the count."}, \
    {"flush", (PyCFunction)zp_ep_flush, METH_NOARGS, "Publish staged messages (never blocks)."},   \
    {"reserve", WITH_KEYWORDS(zp_ep_reserve), FASTCALL_KW,                                         \
     "reserve(size, type_id=0, timeout=None)\n--\n\n"                                               \
     "Reserve `size` writable bytes in the ring: a Reservation (buffer protocol). Leaving its "   \
     "`with` block commits, an exception aborts."},                                               \
    {"reserve_tensor", WITH_KEYWORDS(zp_ep_reserve_tensor), FASTCALL_KW,                           \
     "reserve_tensor(shape, dtype, *, type_id=TYPE_TENSOR, timeout=None)\n--\n\n"                   \
     "Reserve a tensor message in the ring and return the Reservation; r.array is a writable "    \
     "C-contiguous ndarray over the slot. Fill it in place; leaving the `with` block commits. "   \
     "Do not keep references to r.array (or views of it) past the block: a live one aborts the "  \
     "commit with BufferError (nothing is published)."},                                          \
    {"send_tensor", WITH_KEYWORDS(zp_ep_send_tensor), FASTCALL_KW,                                 \
     "send_tensor(tensor, *, type_id=TYPE_TENSOR, timeout=None)\n--\n\n"                            \
     "Send an array-like (NumPy array, any buffer of a numeric format, or anything "              \
     "numpy.asarray takes) as a tensor message: one copy into the ring. A non-contiguous array "  \
     "is gathered into C order on the way; the receiver always gets a C-contiguous tensor."}

#define ZP_M_CONSUMER                                                                                  \
    {"recv", WITH_KEYWORDS(zp_ep_recv), FASTCALL_KW,                                               \
     "recv(timeout=None)\n--\n\nReceive one message as a copy: Message(type_id, data)."},            \
    {"recv_many", WITH_KEYWORDS(zp_ep_recv_many), FASTCALL_KW,                                     \
     "recv_many(max_messages=1024, timeout=None)\n--\n\n"                                           \
     "Wait for at least one message, then take every message already there (up to "               \
     "max_messages): a list of Message(type_id, data) copies. The fast path."},                   \
    {"recv_tensor", WITH_KEYWORDS(zp_ep_recv_tensor), FASTCALL_KW,                                 \
     "recv_tensor(timeout=None)\n--\n\n"                                                           \
     "Receive a tensor message as a read-only NumPy array over the ring, without copying. "       \
     "The array keeps its slot until it is garbage-collected; slots go back in order, so "        \
     "holding one array only holds back the slots after it until it goes. A message that is "     \
     "not a tensor raises TypeError and stays in place (recv() or view() takes it)."},            \
    {"recv_tensors", WITH_KEYWORDS(zp_ep_recv_tensors), FASTCALL_KW,                               \
     "recv_tensors(max_messages=64, timeout=None)\n--\n\n"                                          \
     "Wait for one tensor message, then take every one already there (up to max_messages): "     \
     "a list of read-only zero-copy arrays. It stops before the first message that is not a "     \
     "tensor, which stays in place (TypeError if it comes first)."},                              \
    {"view", WITH_KEYWORDS(zp_ep_view), FASTCALL_KW,                                               \
     "view(timeout=None)\n--\n\nThe next message in place, as a read-only View."},                  \
    {"drain", WITH_KEYWORDS(zp_ep_drain), FASTCALL_KW,                                             \
     "drain(max_messages=64, timeout=None)\n--\n\n"                                                 \
     "Wait for one message, then view every one already there: a Batch of Views."}

#define ZP_GET_ENDPOINT                                                                               \
    {"capacity", (getter)zp_ep_get_capacity, NULL, "Ring size in bytes (a power of two).", NULL},  \
    {"max_message", (getter)zp_ep_get_max, NULL,                                                   \
     "Largest message always accepted: capacity // 2 - 16.", NULL},                               \
    {"closed", (getter)zp_ep_get_closed, NULL, "True after close().", NULL}

/* A stats() dict: {names[i]: values[i]}. */
PyObject *zp_counters(const char *const *names, const uint64_t *values, size_t n);

/* The fields every endpoint type shares, first in its PyTypeObject. */
#define ZP_ENDPOINT_TYPE(name, doc)                                                                    \
    PyVarObject_HEAD_INIT(NULL, 0)                                                                 \
    .tp_name = name, .tp_doc = doc, .tp_basicsize = sizeof(EndpointObject),                        \
    .tp_dealloc = (destructor)zp_ep_dealloc, .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,  \
    .tp_weaklistoffset = offsetof(EndpointObject, weakreflist)

/* ---- topic (_topic.c) --------------------------------------------------- */
extern PyTypeObject ZpPublisher_Type, ZpSubscriber_Type;

/* ---- queue (_queue.c) --------------------------------------------------- */
extern PyTypeObject ZpQueue_Type;

/* ---- rpc (_rpc.c) ----------------------------------------------------- */
extern PyTypeObject ZpRpcClient_Type, ZpRpcWorker_Type, ZpRequest_Type;

/* ---- store (_store.c) ------------------------------------------------- */
extern PyTypeObject ZpStore_Type, ZpStoreTensor_Type;
/* _zipc.STORE_DTYPES: the dtype names ("F32") in the order of their ids. */
int zp_store_add_dtypes(PyObject *m);

/* lane_capacity=None or 0 (the default lane) or bytes in
 * ZIPC_MIN_CAPACITY..ZIPC_QUEUE_MAX_LANE, else ValueError (queue, rpc). */
int zp_parse_lane(PyObject *obj, uint64_t *out);

/* ---- module state (zipc._zipc) ------------------------------------------- */
typedef struct {
    PyObject *err_base, *err_timeout, *err_peer_gone, *err_cancelled, *err_abi, *err_corrupted,
        *err_invalid, *err_permission, *err_overflow, *err_stale, *err_conn_reset;
    PyObject *tensor_args;          /* zipc._arrays.tensor_args, once needed */
    PyObject *np_ndarray;           /* numpy.ndarray, once NumPy is imported */
    PyObject *dtype_args;           /* reserve_tensor: {dtype argument: (dtype, code, bits)} */
    PyObject *last_shape;           /* the shape tuple of the last array made (reused while equal) */
    PyObject *str_read_only;        /* the text of a refused writable export */
    struct {
        uint32_t key;               /* code << 24 | bits << 16 | lanes */
        PyObject *dtype;
    } dtypes[16];                   /* NumPy dtypes of tensor headers seen */
} zp_state;

/* This interpreter's zipc._zipc state; NULL while the module is not
 * loaded (interpreter shutdown). */
zp_state *zp_get_state(void);
/* Raise the zipc exception of errno e with our own text; returns NULL. */
PyObject *zp_raise_text(int e, const char *text);

/* _zipc._c_producer(argv): examples/c_producer.c's main, in this process. */
PyObject *zp_c_producer(PyObject *module, PyObject *argv);

#endif /* ZIPC_PY_H */
