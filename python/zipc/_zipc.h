/* Internal interfaces of the zipc CPython extension (zp_ prefix).
 *
 * Objects:
 *   Channel      one endpoint; every method takes the endpoint's busy flag
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

/* ---- Channel ------------------------------------------------------------ */
struct ReservationObject;

typedef struct {
    PyObject_HEAD
    zipc_channel *ch;               /* NULL once really closed */
    int busy;                       /* atomic: a call runs on this endpoint */
    unsigned long owner;            /* the thread holding busy (valid while busy) */
    int role;                       /* ZIPC_ROLE_PRODUCER / ZIPC_ROLE_CONSUMER */
    bool closing;                   /* closed for calls; the real close waits for pins == 0 */
    bool close_requested;           /* close() ran while busy: the call in progress closes on leaving */
    bool abort_pending;             /* a reservation died while the endpoint was busy */
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
    PyObject *weakreflist;
} ChannelObject;

extern PyTypeObject ZpChannel_Type;

/* Take / drop the busy flag: every method that touches the endpoint runs
 * between them. zp_enter raises ValueError (closed) or RuntimeError (used
 * from another thread at the same time). zp_leave first runs the deferred
 * work (releases, an abort, a requested close). */
int zp_enter(ChannelObject *self);
/* Take the flag without raising (deallocators); false if busy. */
bool zp_try_busy(ChannelObject *self);
void zp_leave(ChannelObject *self);
void zp_pin(ChannelObject *self);
/* Drop a pin; `msg`: the message a dying View gives back (NULL for a
 * reservation's pin). Runs now, or in the thread inside a call. */
void zp_unpin(ChannelObject *self, const struct zipc_msg *msg);

/* Raise the exception for a negative errno; returns NULL. */
PyObject *zp_raise(int err);
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
typedef int (*zp_op)(ChannelObject *self, void *arg, int64_t timeout_ns);
#define ZP_PYERR INT_MIN /* a Python exception (signal handler) is set */
int zp_block(ChannelObject *self, zp_op op, void *arg, int64_t timeout_ns);
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
    ChannelObject *owner;
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
PyObject *zp_view_new(ChannelObject *owner, const struct zipc_msg *msg);
PyObject *zp_batch_new(PyObject *views_tuple);
/* A read-only ndarray over a taken tensor message, without copying; its base
 * is a View, claimed as long as the array lives. NULL with an exception
 * (TypeError: not a tensor) and nothing consumed: the caller stashes it. */
PyObject *zp_tensor_array(ChannelObject *owner, const struct zipc_msg *msg);

/* ---- Reservation -------------------------------------------------------- */
typedef struct ReservationObject {
    PyObject_HEAD
    ChannelObject *owner;
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
PyObject *zp_reservation_new(ChannelObject *owner, void *buf, Py_ssize_t size,
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

/* ---- module state (zipc._zipc) ------------------------------------------- */
typedef struct {
    PyObject *err_base, *err_timeout, *err_peer_gone, *err_cancelled, *err_abi, *err_corrupted,
        *err_invalid, *err_permission;
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
