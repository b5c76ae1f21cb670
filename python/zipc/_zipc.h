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
 * The consumer keeps a ledger of the messages it viewed and has not given
 * back, in view order (each message carries its channel sequence number).
 * When a view stops being live its entry is marked finished, and the longest
 * finished prefix goes back to the producer with zipc_channel_release_upto:
 * a view alive never sees its slot reused, and holding one array does not
 * stall the slots viewed after it once the older ones finish.
 *
 * close() with pins outstanding shuts the endpoint down at once (the peer
 * sees PeerGone, later calls raise) and unmaps when the last pin goes: the
 * mapping outlives every pointer into it.
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

struct zp_open {            /* one ledger entry: a viewed message not yet given back */
    uint64_t end;           /* its zipc_msg.end_ */
    bool done;              /* no view or export holds it any more */
};

typedef struct {
    PyObject_HEAD
    zipc_channel *ch;               /* NULL once really closed */
    int busy;                       /* atomic: a call runs on this endpoint */
    int role;                       /* ZIPC_ROLE_PRODUCER / ZIPC_ROLE_CONSUMER */
    bool closing;                   /* close() called; the real close waits for pins == 0 */
    bool abort_pending;             /* a reservation died while the endpoint was busy */
    Py_ssize_t pins;
    struct ReservationObject *res;  /* the open reservation (borrowed), or NULL */
    size_t capacity, max_message;
    int peer_pid;
    int fd;                         /* pollable fd, -1 until fileno() */
    struct zipc_msg *scratch;       /* drain buffer */
    unsigned scratch_cap;
    struct zp_open *ledger;         /* ring of open messages, indexed by seq & ledger_mask */
    uint64_t ledger_mask;
    uint64_t open_first, open_next; /* the open seqs: [open_first, open_next) */
    PyObject *weakreflist;
} ChannelObject;

extern PyTypeObject ZpChannel_Type;

/* Take / drop the busy flag: every method that touches the endpoint runs
 * between them. zp_enter raises ValueError (closed) or RuntimeError (used
 * from another thread at the same time). */
int zp_enter(ChannelObject *self);
/* Take the flag without raising (deallocators); false if busy. */
bool zp_try_busy(ChannelObject *self);
void zp_leave(ChannelObject *self);
void zp_pin(ChannelObject *self);
void zp_unpin(ChannelObject *self);
/* Message `seq` is no longer used: a later service may give it back. */
void zp_finish(ChannelObject *self, uint64_t seq);

/* Raise the exception for a negative errno; returns NULL. */
PyObject *zp_raise(int err);
/* Convert a Python timeout (None, or seconds >= 0) to nanoseconds. */
int zp_timeout(PyObject *obj, int64_t *ns);
int zp_type_id(PyObject *obj, void *out);

/* One blocking operation: called with timeout ZIPC_TRY under the GIL, then
 * in slices of at most 200 ms without the GIL. */
typedef int (*zp_op)(ChannelObject *self, void *arg, int64_t timeout_ns);
#define ZP_PYERR INT_MIN /* a Python exception (signal handler) is set */
int zp_block(ChannelObject *self, zp_op op, void *arg, int64_t timeout_ns);
/* A new reference to an attribute of zipc._arrays (the NumPy glue). */
PyObject *zp_arrays_attr(const char *name);
/* memcpy that drops the GIL for large copies. */
void zp_copy(void *dst, const void *src, size_t n);

/* ---- View and Batch --------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    ChannelObject *owner;
    const uint8_t *data;
    uint32_t size;
    uint32_t type;
    uint64_t seq;           /* the message's channel sequence number (ledger key) */
    Py_ssize_t exports;     /* buffer exports + DLPack capsules alive */
    bool claimed;           /* until release() / __exit__ */
    bool pinned;
    int8_t tensor;          /* 0 not parsed yet, 1 valid tensor, -1 not a tensor */
    struct zipc_tensor_header th; /* validated local copy when tensor == 1 */
} ViewObject;

extern PyTypeObject ZpView_Type;
extern PyTypeObject ZpBatch_Type;
PyObject *zp_view_new(ChannelObject *owner, const struct zipc_msg *msg);
PyObject *zp_batch_new(PyObject *views_tuple);
/* A tensor view as a read-only ndarray over the ring (base: the view, whose
 * claim then lasts as long as the array). TypeError if not a tensor. */
PyObject *zp_view_array(ViewObject *v);

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
    PyObject *array;        /* reserve_array's ndarray, dropped before commit */
} ReservationObject;

extern PyTypeObject ZpReservation_Type;
PyObject *zp_reservation_new(ChannelObject *owner, void *buf, Py_ssize_t size,
                             Py_ssize_t data_offset, uint32_t type);
/* close(): the C close drops the reservation; the object learns it here. */
void zp_reservation_detach(ReservationObject *res);

/* ---- tensors ------------------------------------------------------------ */
/* Parse and validate a tensor header at the start of a payload of `size`
 * bytes into *h (a local copy). Raises CorruptedError and returns -1. */
int zp_tensor_parse(const uint8_t *payload, uint64_t size, struct zipc_tensor_header *h);
PyObject *zp_tensor_info(PyObject *module, PyObject *buffer);
PyObject *zp_tensor_header(PyObject *module, PyObject *args);

extern PyObject *ZpErr_Corrupted;

#endif /* ZIPC_PY_H */
