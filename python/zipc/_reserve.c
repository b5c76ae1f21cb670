/* Reservation: a writable slot in the ring, between reserve and commit.
 * Its buffers must not outlive the commit: a commit while any export is
 * alive aborts instead (nothing published) and raises BufferError.
 *
 * reserve_tensor's array is numpy.ndarray(shape, dtype, reservation): NumPy
 * holds no buffer export for it, only the reference of its base. The array
 * counts as one export (a pin) from its making: at commit it is dead when
 * ours is its only reference (every view, slice, memoryview or DLPack
 * capsule of it holds one), and one kept past the commit keeps the pin
 * until the reservation itself dies, which it cannot do before the array
 * (its base). */
#include "_zipc.h"

#include <structmember.h>

static void res_update_pin(ReservationObject *r)
{
    bool pin = r->exports > 0; /* an export points into the mapping */
    if (pin == r->pinned)
        return;
    r->pinned = pin;
    if (pin)
        zp_pin(r->owner);
    else
        zp_unpin(r->owner, NULL);
}

PyObject *zp_reservation_new(EndpointObject *owner, void *buf, Py_ssize_t size, Py_ssize_t data_offset,
                             uint32_t type)
{
    ReservationObject *r = PyObject_GC_New(ReservationObject, &ZpReservation_Type);
    if (!r)
        return NULL;
    r->owner = (EndpointObject *)Py_NewRef(owner);
    r->data = buf;
    r->size = size;
    r->data_offset = data_offset;
    r->type = type;
    r->exports = 0;
    r->open = true;
    r->pinned = false;
    r->array_export = false;
    r->array = NULL;
    owner->res = r;
    PyObject_GC_Track(r);
    return (PyObject *)r;
}

void zp_reservation_detach(ReservationObject *r)
{
    r->open = false;
    r->owner->res = NULL;
}

/* Drop our reference to the array; its export goes with it unless someone
 * else still holds the array. */
static void drop_array(ReservationObject *r)
{
    bool kept = r->array && Py_REFCNT(r->array) > 1;
    Py_CLEAR(r->array);
    if (r->array_export && !kept) {
        r->array_export = false;
        r->exports--;
        res_update_pin(r);
    }
}

/* Commit (or abort) the C reservation; BufferError if still exported. */
static PyObject *finish(ReservationObject *r, bool commit, Py_ssize_t size, uint32_t type)
{
    if (!r->open) {
        PyErr_SetString(PyExc_ValueError, "the reservation was already committed or aborted");
        return NULL;
    }
    drop_array(r); /* our own ndarray goes first: only foreign holders remain */
    EndpointObject *o = r->owner;
    if (zp_enter(o))
        return NULL;
    bool exported = r->exports > 0;
    int rc = commit && !exported ? o->ops->commit(o->ep, (size_t)(r->data_offset + size), type, 0)
                                 : o->ops->abort(o->ep);
    zp_reservation_detach(r);
    zp_leave(o);
    if (commit && exported) {
        PyErr_SetString(PyExc_BufferError,
                        "a buffer or array of the reservation is still alive at commit: the "
                        "reservation was aborted (nothing published). Release memoryviews and "
                        "drop array references before leaving the block.");
        return NULL;
    }
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

int zp_reservation_array(ReservationObject *r, PyObject *shape, PyObject *dtype)
{
    PyObject *a = zp_ndarray(shape, dtype, (PyObject *)r, NULL);
    if (!a) {
        PyObject *rc = finish(r, false, 0, 0);
        Py_XDECREF(rc);
        return -1;
    }
    r->array = a;
    r->array_export = true;
    r->exports++;
    res_update_pin(r);
    return 0;
}

static PyObject *Res_commit(ReservationObject *r, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"size", "type_id", NULL};
    PyObject *a[2];
    uint32_t type = r->type;
    Py_ssize_t size = r->size;
    if (zp_args("commit", args, nargs, kwnames, names, 2, 0, a) ||
        (a[1] && a[1] != Py_None && !zp_type_id(a[1], &type)))
        return NULL;
    PyObject *size_obj = a[0] ? a[0] : Py_None;
    if (size_obj != Py_None) {
        size = PyNumber_AsSsize_t(size_obj, PyExc_OverflowError);
        if (size == -1 && PyErr_Occurred())
            return NULL;
        if (size < 0 || size > r->size || (r->data_offset && size != r->size)) {
            PyErr_SetString(PyExc_ValueError, r->data_offset ? "a tensor reservation commits whole"
                                                             : "commit size must be in 0..reserved size");
            return NULL;
        }
    }
    return finish(r, true, size, type);
}

static PyObject *Res_abort(ReservationObject *r, PyObject *Py_UNUSED(ignored))
{
    return finish(r, false, 0, 0);
}

static PyObject *Res_enter(PyObject *r, PyObject *Py_UNUSED(ignored)) { return Py_NewRef(r); }

/* Leaving the block commits the whole reservation; an exception aborts. */
static PyObject *Res_exit(ReservationObject *r, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *exc_type = nargs ? args[0] : Py_None;
    if (!r->open) {
        drop_array(r);
        Py_RETURN_FALSE;
    }
    PyObject *res = finish(r, exc_type == Py_None, r->size, r->type);
    if (!res)
        return exc_type == Py_None ? NULL : Py_NewRef(Py_False); /* keep the body's exception */
    Py_DECREF(res);
    Py_RETURN_FALSE;
}

static int Res_getbuffer(ReservationObject *r, Py_buffer *view, int flags)
{
    if (!r->open) {
        PyErr_SetString(PyExc_BufferError, "the reservation was committed or aborted");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)r, r->data + r->data_offset, r->size, 0, flags))
        return -1;
    r->exports++;
    res_update_pin(r);
    return 0;
}

static void Res_releasebuffer(ReservationObject *r, Py_buffer *Py_UNUSED(view))
{
    r->exports--;
    res_update_pin(r);
}

/* buf[a:b] = bytes-like of b - a bytes, the common write, copied straight
 * into the slot: true if done; false leaves it to the general path (which
 * also raises the errors). That path's memoryview and its release() cost
 * ~0.25 us a write, twice the rest of reserve + commit. */
static bool res_write_slice(ReservationObject *r, PyObject *key, PyObject *value)
{
    Py_ssize_t start, stop, step;
    if (!PySlice_Check(key) || PySlice_Unpack(key, &start, &stop, &step) || step != 1) {
        PyErr_Clear();
        return false;
    }
    Py_ssize_t n = PySlice_AdjustIndices(r->size, &start, &stop, step);
    Py_buffer b;
    if (PyObject_GetBuffer(value, &b, PyBUF_ND | PyBUF_FORMAT)) {
        PyErr_Clear(); /* not a contiguous buffer: the general path says what it needs */
        return false;
    }
    /* what a byte memoryview's slice accepts: one dimension of unsigned bytes;
     * open checked last: __index__ or __buffer__ above may have run code that
     * committed the reservation (the general path then raises BufferError) */
    bool done = b.len == n && b.ndim == 1 && (!b.format || !strcmp(b.format, "B")) && r->open;
    if (done) /* memmove: the value may be a view of this very slot */
        memmove(r->data + r->data_offset + start, b.buf, (size_t)n);
    PyBuffer_Release(&b);
    return done;
}

/* buf[key] = data: a slice of the same length directly, anything else
 * through a memoryview released at once. */
static int Res_ass_subscript(ReservationObject *r, PyObject *key, PyObject *value)
{
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "cannot delete reservation bytes");
        return -1;
    }
    if (res_write_slice(r, key, value))
        return 0;
    PyObject *mv = PyMemoryView_FromObject((PyObject *)r);
    if (!mv)
        return -1;
    int rc = PyObject_SetItem(mv, key, value);
    if (rc == 0) { /* not with an exception set: release() would fail with SystemError */
        PyObject *ok = PyObject_CallMethod(mv, "release", NULL);
        rc = ok ? 0 : -1;
        Py_XDECREF(ok);
    }
    Py_DECREF(mv); /* its only reference: its export ends with it either way */
    return rc;
}

static Py_ssize_t Res_len(ReservationObject *r) { return r->size; }

static int Res_traverse(ReservationObject *r, visitproc visit, void *arg)
{
    Py_VISIT(r->array);
    Py_VISIT(r->owner);
    return 0;
}

static int Res_clear(ReservationObject *r)
{
    Py_CLEAR(r->array);
    return 0;
}

static void Res_dealloc(ReservationObject *r)
{
    PyObject_GC_UnTrack(r);
    Py_CLEAR(r->array);
    if (r->array_export) { /* the array, our base's last holder, is gone */
        r->array_export = false;
        r->exports--;
        res_update_pin(r);
    }
    EndpointObject *o = r->owner;
    if (r->open) { /* dropped without commit: abort, now or at the owner's next call */
        if (zp_try_busy(o)) {
            o->ops->abort(o->ep);
            zp_leave(o);
        } else {
            o->abort_pending = true;
        }
        zp_reservation_detach(r);
    }
    Py_DECREF(o);
    PyObject_GC_Del(r);
}

static PyObject *Res_get_open(ReservationObject *r, void *Py_UNUSED(c)) { return PyBool_FromLong(r->open); }
static PyObject *Res_get_size(ReservationObject *r, void *Py_UNUSED(c)) { return PyLong_FromSsize_t(r->size); }
static PyObject *Res_get_type(ReservationObject *r, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLong(r->type); }

static int Res_set_type(ReservationObject *r, PyObject *v, void *Py_UNUSED(c))
{
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "cannot delete type_id");
        return -1;
    }
    return zp_type_id(v, &r->type) ? 0 : -1;
}

static PyGetSetDef Res_getset[] = {
    {"open", (getter)Res_get_open, NULL, "True until commit or abort.", NULL},
    {"size", (getter)Res_get_size, NULL, "Writable bytes.", NULL},
    {"type_id", (getter)Res_get_type, (setter)Res_set_type, "Type id the commit will carry.", NULL},
    {NULL},
};

static PyMemberDef Res_members[] = {
    {"array", T_OBJECT, offsetof(ReservationObject, array), 0,
     "reserve_tensor(): the writable ndarray over the slot (do not keep it past the block)."},
    {NULL},
};

static PyMethodDef Res_methods[] = {
    {"commit", (PyCFunction)(void (*)(void))Res_commit, METH_FASTCALL | METH_KEYWORDS,
     "commit(size=None, type_id=None)\n--\n\nPublish the first `size` bytes (default: all). "
     "BufferError (and an abort) if a memoryview/array of it is still alive."},
    {"abort", (PyCFunction)Res_abort, METH_NOARGS, "Drop the reservation: nothing is published."},
    {"__enter__", (PyCFunction)Res_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Res_exit, METH_FASTCALL, NULL},
    {NULL},
};

static PyBufferProcs Res_as_buffer = {
    .bf_getbuffer = (getbufferproc)Res_getbuffer,
    .bf_releasebuffer = (releasebufferproc)Res_releasebuffer,
};
static PyMappingMethods Res_as_mapping = {
    .mp_length = (lenfunc)Res_len,
    .mp_ass_subscript = (objobjargproc)Res_ass_subscript,
};

PyTypeObject ZpReservation_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc.Reservation",
    .tp_basicsize = sizeof(ReservationObject),
    .tp_dealloc = (destructor)Res_dealloc,
    .tp_as_mapping = &Res_as_mapping,
    .tp_as_buffer = &Res_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Writable bytes reserved in the ring (buffer protocol). Leaving `with` commits, an "
              "exception aborts; buf[a:b] = data writes in place.",
    .tp_traverse = (traverseproc)Res_traverse,
    .tp_clear = (inquiry)Res_clear,
    .tp_methods = Res_methods,
    .tp_members = Res_members,
    .tp_getset = Res_getset,
};
