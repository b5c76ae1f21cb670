/* View (a message in place), Batch (the views of one drain) and the View's
 * DLPack export (the capsules are made in _dlpack.c). A View is live while
 * claimed or exported; each live View holds one pin on its channel (see
 * _zipc.h). */
#include "_zipc.h"

/* ------------------------------------------------------------------------
 * Liveness
 * ------------------------------------------------------------------------ */

/* Pin or unpin as the view's liveness says. Returns what giving the slot
 * back returned (-ESTALE: a topic's publisher overwrote it meanwhile), else 0. */
static int view_update(ViewObject *v)
{
    bool live = v->claimed || v->exports > 0;
    if (live == v->pinned)
        return 0;
    v->pinned = live;
    if (live) {
        zp_pin(v->owner);
        return 0;
    }
    return zp_unpin(v->owner, v->disowned ? NULL : &v->msg); /* gives the slot back: v->msg.data is dead */
}

/* Given back with nobody to tell (garbage collection, an export's end):
 * counted, for the subscriber's stats. */
static void view_update_quiet(ViewObject *v)
{
    EndpointObject *o = v->owner;
    if (view_update(v) == -ESTALE)
        o->stale_unreported++;
}

static int view_check(ViewObject *v)
{
    if (v->pinned)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the view was released (its message slot went back to the producer)");
    return -1;
}

PyObject *zp_view_new(EndpointObject *owner, const struct zipc_msg *msg)
{
    ViewObject *v = PyObject_New(ViewObject, &ZpView_Type);
    if (!v)
        return NULL;
    v->owner = (EndpointObject *)Py_NewRef(owner);
    v->msg = *msg;
    v->exports = 0;
    v->claimed = true;
    v->pinned = false;
    v->disowned = false;
    v->tensor = 0;
    view_update(v);
    return (PyObject *)v;
}

static void View_dealloc(ViewObject *v)
{
    v->claimed = false; /* no export is left: each holds a reference */
    view_update_quiet(v);
    Py_DECREF(v->owner);
    PyObject_Free(v);
}

/* Stale (ESTALE) when this gives the slot back and the publisher of a
 * topic overwrote it meanwhile (DROP_OLDEST views are not pinned). */
static PyObject *View_release(ViewObject *v, PyObject *Py_UNUSED(ignored))
{
    v->claimed = false;
    int rc = view_update(v);
    return rc == -ESTALE ? zp_raise_text(ESTALE, "the publisher overwrote this view while it was held: "
                                                 "what was read through it may be torn")
                         : Py_NewRef(Py_None);
}

static PyObject *View_enter(PyObject *v, PyObject *Py_UNUSED(ignored)) { return Py_NewRef(v); }

static PyObject *View_exit(ViewObject *v, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(nargs))
{
    PyObject *r = View_release(v, NULL);
    Py_XDECREF(r);
    return r ? Py_NewRef(Py_False) : NULL;
}

/* ------------------------------------------------------------------------
 * Buffer protocol (read-only)
 * ------------------------------------------------------------------------ */

static int View_getbuffer(ViewObject *v, Py_buffer *view, int flags)
{
    if (view_check(v))
        return -1;
    if (flags & PyBUF_WRITABLE) { /* NumPy asks this first for every array: no new text each time */
        zp_state *st = zp_get_state();
        PyErr_SetObject(PyExc_BufferError, st ? st->str_read_only : NULL);
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)v, (void *)v->msg.data, v->msg.size, 1, flags))
        return -1;
    v->exports++;
    return 0;
}

static void View_releasebuffer(ViewObject *v, Py_buffer *Py_UNUSED(view))
{
    v->exports--;
    view_update_quiet(v);
}

static PyBufferProcs View_as_buffer = {
    .bf_getbuffer = (getbufferproc)View_getbuffer,
    .bf_releasebuffer = (releasebufferproc)View_releasebuffer,
};

/* ------------------------------------------------------------------------
 * The tensor header of a view (parsed once)
 * ------------------------------------------------------------------------ */

/* 1: a valid tensor (v->th filled), 0: not a tensor message, -1: raised. */
static int view_tensor(ViewObject *v)
{
    if (v->tensor == 0) {
        if (v->msg.type != ZIPC_TYPE_TENSOR)
            v->tensor = -1;
        else if (zp_tensor_parse(v->msg.data, v->msg.size, &v->th))
            return -1;
        else
            v->tensor = 1;
    }
    return v->tensor == 1;
}

static PyObject *View_get_tensor(ViewObject *v, void *Py_UNUSED(c))
{
    if (view_check(v))
        return NULL;
    int t = view_tensor(v);
    return t < 0 ? NULL : t == 0 ? Py_NewRef(Py_None) : zp_tensor_tuple(&v->th);
}

/* ------------------------------------------------------------------------
 * DLPack export (_dlpack.c): each capsule is an export of the view (it
 * stays live).
 * ------------------------------------------------------------------------ */

static void view_export_end(PyObject *owner)
{
    ViewObject *v = (ViewObject *)owner;
    v->exports--;
    view_update_quiet(v);
}

/* A tensor message exports its header's dtype/shape/strides; any other
 * message exports uint8[size]. */
static int fill_dltensor(ViewObject *v, zp_dl_desc *d)
{
    int kind = view_tensor(v);
    if (kind < 0)
        return -1;
    memset(d, 0, sizeof *d);
    if (kind == 1) {
        const struct zipc_tensor_header *h = &v->th;
        d->data = (void *)((const uint8_t *)v->msg.data + h->data_offset);
        d->ndim = h->ndim;
        d->code = h->dtype_code;
        d->bits = h->dtype_bits;
        d->lanes = h->dtype_lanes;
        memcpy(d->shape, h->shape, sizeof h->shape);
        memcpy(d->strides, h->strides, sizeof h->strides);
    } else {
        d->data = (void *)v->msg.data;
        d->ndim = 1;
        d->code = ZIPC_DTYPE_UINT;
        d->bits = 8;
        d->lanes = 1;
        d->shape[0] = v->msg.size;
        d->strides[0] = 1;
    }
    return 0;
}

static PyObject *View_dlpack(ViewObject *v, PyObject *args, PyObject *kw)
{
    zp_dl_desc d;
    int versioned = zp_dlpack_args(args, kw);
    if (versioned < 0 || view_check(v) || fill_dltensor(v, &d))
        return NULL;
    PyObject *cap = zp_dlpack_capsule((PyObject *)v, view_export_end, &d, versioned);
    if (cap)
        v->exports++; /* the capsule (then its consumer) keeps the slot */
    return cap;
}

/* ------------------------------------------------------------------------
 * The rest of View
 * ------------------------------------------------------------------------ */

static PyObject *View_tobytes(ViewObject *v, PyObject *Py_UNUSED(ignored))
{
    if (view_check(v))
        return NULL;
    return PyBytes_FromStringAndSize((const char *)v->msg.data, v->msg.size);
}

static Py_ssize_t View_len(ViewObject *v) { return v->msg.size; }

static PyObject *View_get_type(ViewObject *v, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLong(v->msg.type); }
static PyObject *View_get_size(ViewObject *v, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLong(v->msg.size); }
static PyObject *View_get_released(ViewObject *v, void *Py_UNUSED(c)) { return PyBool_FromLong(!v->pinned); }
static PyObject *View_get_seq(ViewObject *v, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLongLong(v->msg.seq); }

/* A queue's delivery (producer lane, attempt); None for the other kinds. */
static PyObject *view_delivery(ViewObject *v, bool attempt)
{
    unsigned producer, attempts;
    if (!v->owner->ops->delivery)
        Py_RETURN_NONE;
    v->owner->ops->delivery(&v->msg, &producer, &attempts);
    return PyLong_FromUnsignedLong(attempt ? attempts : producer);
}

static PyObject *View_get_producer(ViewObject *v, void *Py_UNUSED(c)) { return view_delivery(v, false); }
static PyObject *View_get_attempt(ViewObject *v, void *Py_UNUSED(c)) { return view_delivery(v, true); }

static PyObject *View_repr(ViewObject *v)
{
    return PyUnicode_FromFormat("<zipc.View type_id=0x%x size=%u%s>", v->msg.type, v->msg.size,
                                v->pinned ? "" : " released");
}

static PyMethodDef View_methods[] = {
    {"release", (PyCFunction)View_release, METH_NOARGS,
     "End this view's own claim. Buffers and DLPack tensors taken from it stay valid: the slot "
     "goes back to the producer when the last of them is gone."},
    {"__enter__", (PyCFunction)View_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))View_exit, METH_FASTCALL, NULL},
    {"tobytes", (PyCFunction)View_tobytes, METH_NOARGS, "Copy the payload into a bytes object."},
    {"__dlpack__", (PyCFunction)(void (*)(void))View_dlpack, METH_VARARGS | METH_KEYWORDS,
     "DLPack export without copying: a tensor message's dtype/shape/strides, else uint8[size]. "
     "Read-only (the versioned capsule carries the read-only flag)."},
    {"__dlpack_device__", zp_dlpack_device, METH_NOARGS, "(1, 0): CPU."},
    {NULL},
};

static PyGetSetDef View_getset[] = {
    {"type_id", (getter)View_get_type, NULL, "The message's 32-bit type id.", NULL},
    {"size", (getter)View_get_size, NULL, "Payload size in bytes.", NULL},
    {"released", (getter)View_get_released, NULL, "True once neither the claim nor any export holds the slot.", NULL},
    {"seq", (getter)View_get_seq, NULL,
     "The message's number: on a channel or topic from 0; on a queue in its producer's lane (32 bits, "
     "wrapping), unique with `producer` while the queue lives.", NULL},
    {"producer", (getter)View_get_producer, NULL,
     "Queue: the producer lane that wrote it (Queue.slot of that producer); None for other kinds.", NULL},
    {"attempt", (getter)View_get_attempt, NULL,
     "Queue: its delivery attempt, 1, then +1 each time a consumer died holding it (at most 63); "
     "None for other kinds.", NULL},
    {"tensor", (getter)View_get_tensor, NULL,
     "For a tensor message (code, bits, lanes, shape, strides, data_offset, nbytes), else None.", NULL},
    {NULL},
};

static PySequenceMethods View_as_sequence = {.sq_length = (lenfunc)View_len};

PyTypeObject ZpView_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc.View",
    .tp_basicsize = sizeof(ViewObject),
    .tp_dealloc = (destructor)View_dealloc,
    .tp_repr = (reprfunc)View_repr,
    .tp_as_sequence = &View_as_sequence,
    .tp_as_buffer = &View_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A received message in place in the ring (read-only buffer, DLPack).",
    .tp_methods = View_methods,
    .tp_getset = View_getset,
};

/* ------------------------------------------------------------------------
 * Batch
 * ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *views; /* tuple of View */
} BatchObject;

PyObject *zp_batch_new(PyObject *views)
{
    BatchObject *b = PyObject_New(BatchObject, &ZpBatch_Type);
    if (b)
        b->views = Py_NewRef(views);
    return (PyObject *)b;
}

static void Batch_dealloc(BatchObject *b)
{
    Py_DECREF(b->views);
    PyObject_Free(b);
}

/* Releases every view; Stale (after all) if any was overwritten. */
static PyObject *Batch_release(BatchObject *b, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t stale = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(b->views); i++) {
        PyObject *r = View_release((ViewObject *)PyTuple_GET_ITEM(b->views, i), NULL);
        if (!r) {
            stale++;
            PyErr_Clear();
        }
        Py_XDECREF(r);
    }
    if (stale == 0)
        Py_RETURN_NONE;
    char text[128];
    snprintf(text, sizeof text, "the publisher overwrote %zd view%s of this batch while it was held", stale,
             stale == 1 ? "" : "s");
    return zp_raise_text(ESTALE, text);
}

static PyObject *Batch_exit(BatchObject *b, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(nargs))
{
    PyObject *r = Batch_release(b, NULL);
    Py_XDECREF(r);
    return r ? Py_NewRef(Py_False) : NULL;
}

static Py_ssize_t Batch_len(BatchObject *b) { return PyTuple_GET_SIZE(b->views); }
static PyObject *Batch_item(BatchObject *b, Py_ssize_t i) { return PySequence_GetItem(b->views, i); }
static PyObject *Batch_iter(BatchObject *b) { return PyObject_GetIter(b->views); }

static PyMethodDef Batch_methods[] = {
    {"release", (PyCFunction)Batch_release, METH_NOARGS, "Release every view's claim."},
    {"__enter__", (PyCFunction)View_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Batch_exit, METH_FASTCALL, NULL},
    {NULL},
};

static PySequenceMethods Batch_as_sequence = {
    .sq_length = (lenfunc)Batch_len,
    .sq_item = (ssizeargfunc)Batch_item,
};

PyTypeObject ZpBatch_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc.Batch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_as_sequence = &Batch_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The views of one drain(): a sequence of View; leaving `with` releases them all.",
    .tp_iter = (getiterfunc)Batch_iter,
    .tp_methods = Batch_methods,
};
