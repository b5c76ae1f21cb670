/* Tensors: the zipc/tensor.h header between Python and the ring. Parsing
 * and validating received headers, building headers from dtypes and shapes,
 * reading any buffer's dtype, and NumPy arrays over taken messages
 * (recv_tensor). The channel methods that send and reserve tensors are in
 * _zipc.c; the DLPack export of a View is in _view.c. */
#include "_zipc.h"

/* ------------------------------------------------------------------------
 * Headers
 * ------------------------------------------------------------------------ */

int zp_tensor_parse(const uint8_t *payload, uint64_t size, struct zipc_tensor_header *h)
{
    if (size >= sizeof *h) {
        memcpy(h, payload, sizeof *h); /* a local copy: the peer may still write the ring */
        if (zipc_tensor_validate(h, size) == 0)
            return 0;
    }
    zp_raise_text(EBADMSG, "invalid tensor header");
    return -1;
}

static PyObject *int64_tuple(const int64_t *a, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++) {
        PyObject *x = PyLong_FromLongLong(a[i]);
        if (!x) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

PyObject *zp_tensor_tuple(const struct zipc_tensor_header *h)
{
    PyObject *shape = int64_tuple(h->shape, h->ndim);
    PyObject *strides = int64_tuple(h->strides, h->ndim);
    PyObject *r = NULL;
    if (shape && strides)
        r = Py_BuildValue("(iiiOOKK)", h->dtype_code, h->dtype_bits, h->dtype_lanes, shape, strides,
                          (unsigned long long)h->data_offset, (unsigned long long)h->nbytes);
    Py_XDECREF(shape);
    Py_XDECREF(strides);
    return r;
}

PyObject *zp_tensor_info(PyObject *Py_UNUSED(module), PyObject *buffer)
{
    Py_buffer b;
    if (PyObject_GetBuffer(buffer, &b, PyBUF_SIMPLE))
        return NULL;
    struct zipc_tensor_header h;
    PyObject *r = zp_tensor_parse(b.buf, (uint64_t)b.len, &h) ? NULL : zp_tensor_tuple(&h);
    PyBuffer_Release(&b);
    return r;
}

/* ------------------------------------------------------------------------
 * Building headers, and the dtype of a buffer (send_tensor)
 * ------------------------------------------------------------------------ */

/* dtype triple and shape -> tensor header; raises ValueError. */
int zp_tensor_init(struct zipc_tensor_header *h, int code, int bits, int lanes, Py_ssize_t ndim,
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

int zp_parse_shape(PyObject *obj, int64_t *shape, Py_ssize_t *ndim)
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

PyObject *zp_shape_arg(PyObject *obj, int64_t *shape, Py_ssize_t *ndim)
{
    if (PyLong_Check(obj)) {
        obj = PyTuple_Pack(1, obj);
        if (!obj)
            return NULL;
    } else if (PyTuple_CheckExact(obj)) {
        Py_INCREF(obj); /* given as numpy takes it */
    } else {
        if (zp_parse_shape(obj, shape, ndim))
            return NULL;
        return int64_tuple(shape, (int)*ndim);
    }
    if (zp_parse_shape(obj, shape, ndim))
        Py_CLEAR(obj);
    return obj;
}

PyObject *zp_dtype_arg(PyObject *obj, int *code, int *bits)
{
    zp_state *st = zp_get_state();
    if (!st)
        return NULL;
    PyObject *t = PyDict_GetItemWithError(st->dtype_args, obj); /* borrowed */
    if (t)
        Py_INCREF(t);
    else if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_TypeError))
        return NULL;
    else { /* not seen yet (or unhashable): ask zipc._arrays, remember hashable ones */
        PyErr_Clear();
        PyObject *f = zp_arrays_attr("dtype_args"), *nd, *dt;
        PyObject *r = f ? PyObject_CallOneArg(f, obj) : NULL; /* (ndarray, dtype, code, bits) */
        Py_XDECREF(f);
        if (!r || !PyArg_ParseTuple(r, "OOii", &nd, &dt, code, bits)) {
            Py_XDECREF(r);
            return NULL;
        }
        if (!st->np_ndarray)
            st->np_ndarray = Py_NewRef(nd);
        t = Py_BuildValue("(Oii)", dt, *code, *bits);
        Py_DECREF(r);
        if (!t)
            return NULL;
        if (PyDict_GET_SIZE(st->dtype_args) >= 64)
            PyDict_Clear(st->dtype_args); /* bounded: dtypes are few, arguments may not be */
        if (PyDict_SetItem(st->dtype_args, obj, t))
            PyErr_Clear(); /* unhashable: used uncached */
    }
    PyObject *dt = Py_NewRef(PyTuple_GET_ITEM(t, 0));
    *code = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 1));
    *bits = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 2));
    Py_DECREF(t);
    return dt;
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
int zp_tensor_buffer(PyObject *obj, Py_buffer *b, int *code, int *bits)
{
    zp_state *st = zp_get_state();
    if (!st)
        return -1;
    if (PyObject_GetBuffer(obj, b, PyBUF_RECORDS_RO) == 0) {
        if (format_dtype(b->format, b->itemsize, code, bits))
            return 0;
        PyBuffer_Release(b);
    }
    PyErr_Clear();
    if (!st->tensor_args && !(st->tensor_args = zp_arrays_attr("tensor_args")))
        return -1;
    PyObject *t = PyObject_CallOneArg(st->tensor_args, obj); /* (ndarray, code, bits) or raises */
    PyObject *arr;
    int rc = t && PyArg_ParseTuple(t, "Oii", &arr, code, bits) ? PyObject_GetBuffer(arr, b, PyBUF_STRIDES) : -1;
    Py_XDECREF(t); /* b holds arr */
    return rc;
}

PyObject *zp_tensor_header(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *shape_obj;
    int code, bits, lanes;
    int64_t shape[ZIPC_TENSOR_MAX_NDIM];
    Py_ssize_t ndim;
    struct zipc_tensor_header h;
    if (!PyArg_ParseTuple(args, "iiiO:tensor_header", &code, &bits, &lanes, &shape_obj) ||
        zp_parse_shape(shape_obj, shape, &ndim) || zp_tensor_init(&h, code, bits, lanes, ndim, shape))
        return NULL;
    return PyBytes_FromStringAndSize((const char *)&h, sizeof h);
}

/* ------------------------------------------------------------------------
 * NumPy arrays over views (recv_tensor): numpy.ndarray(shape, dtype, view,
 * offset, strides). The array's base is the view, claimed until it dies.
 * ------------------------------------------------------------------------ */

/* A new reference to the NumPy dtype of a tensor header (cached). */
static PyObject *dtype_of(const struct zipc_tensor_header *h)
{
    zp_state *st = zp_get_state();
    if (!st)
        return NULL;
    uint32_t key = (uint32_t)h->dtype_code << 24 | (uint32_t)h->dtype_bits << 16 | h->dtype_lanes;
    size_t i = 0, n = sizeof st->dtypes / sizeof st->dtypes[0];
    for (; i < n && st->dtypes[i].dtype; i++)
        if (st->dtypes[i].key == key)
            return Py_NewRef(st->dtypes[i].dtype);
    PyObject *f = zp_arrays_attr("ndarray_of"), *nd, *dt = NULL;
    PyObject *t = f ? PyObject_CallFunction(f, "iii", h->dtype_code, h->dtype_bits, h->dtype_lanes) : NULL;
    if (t && PyArg_ParseTuple(t, "OO", &nd, &dt)) {
        if (!st->np_ndarray)
            st->np_ndarray = Py_NewRef(nd);
        if (i < n) {
            st->dtypes[i].key = key;
            st->dtypes[i].dtype = Py_NewRef(dt);
        }
        Py_INCREF(dt); /* the caller's */
    }
    Py_XDECREF(f);
    Py_XDECREF(t);
    return dt && !PyErr_Occurred() ? dt : NULL;
}

/* 1: m is a valid tensor (*h filled); else NULL-worthy: -1 with TypeError
 * (another type) or CorruptedError (a malformed header). */
static int tensor_of(const struct zipc_msg *m, struct zipc_tensor_header *h)
{
    if (m->type != ZIPC_TYPE_TENSOR) {
        PyErr_Format(PyExc_TypeError, "message of type 0x%x is not a tensor (left in place: "
                     "recv() or view() takes it)", (unsigned)m->type);
        return -1;
    }
    return zp_tensor_parse(m->data, m->size, h) ? -1 : 1;
}

PyObject *zp_ndarray(PyObject *shape, PyObject *dtype, PyObject *base, PyObject *offset)
{
    zp_state *st = zp_get_state(); /* np_ndarray is set: the caller has a dtype */
    PyObject *args[4] = {shape, dtype, base, offset};
    return st ? PyObject_Vectorcall(st->np_ndarray, args, offset ? 4 : 3, NULL) : NULL;
}

/* The shape of h as a tuple: the last one made while the shapes are equal
 * (a stream of tensors usually keeps its shape). */
static PyObject *shape_tuple(zp_state *st, const struct zipc_tensor_header *h)
{
    PyObject *last = st->last_shape;
    bool same = last && PyTuple_GET_SIZE(last) == (Py_ssize_t)h->ndim;
    for (unsigned i = 0; same && i < h->ndim; i++)
        same = PyLong_AsLongLong(PyTuple_GET_ITEM(last, i)) == h->shape[i];
    if (same)
        return Py_NewRef(last);
    PyObject *t = int64_tuple(h->shape, h->ndim);
    if (t)
        Py_XSETREF(st->last_shape, Py_NewRef(t));
    return t;
}

static bool c_contiguous(const struct zipc_tensor_header *h)
{
    int64_t expect = 1;
    for (unsigned i = h->ndim; i-- > 0;) {
        if (h->shape[i] != 1 && h->strides[i] != expect)
            return false;
        expect *= h->shape[i];
    }
    return true;
}

/* numpy.ndarray(shape, dtype, base, offset[, strides]) over a validated
 * header; strides only when the tensor is not C-contiguous. */
static PyObject *ndarray_over(const struct zipc_tensor_header *h, PyObject *dt, PyObject *base)
{
    zp_state *st = zp_get_state();
    if (!st)
        return NULL;
    PyObject *shape = shape_tuple(st, h), *offset = PyLong_FromUnsignedLongLong(h->data_offset), *a = NULL;
    if (shape && offset && c_contiguous(h)) {
        a = zp_ndarray(shape, dt, base, offset);
    } else if (shape && offset) {
        int64_t strides[ZIPC_TENSOR_MAX_NDIM], item = (int64_t)zipc_tensor_itemsize(h->dtype_bits, h->dtype_lanes);
        for (unsigned i = 0; i < h->ndim; i++)
            strides[i] = h->strides[i] * item; /* validated: within the payload */
        PyObject *args[5] = {shape, dt, base, offset, int64_tuple(strides, h->ndim)};
        a = args[4] ? PyObject_Vectorcall(st->np_ndarray, args, 5, NULL) : NULL;
        Py_XDECREF(args[4]);
    }
    Py_XDECREF(shape);
    Py_XDECREF(offset);
    return a;
}

/* Queue.get's common kinds without the Python decoder: a valid tensor as
 * an array (in place, held by its View; or a copy, the View let go), bytes
 * as a copy; anything else as its View, for the Python layer to decode. */
PyObject *zp_object_of(EndpointObject *owner, const struct zipc_msg *m, bool copy)
{
    struct zipc_tensor_header h;
    bool tensor = m->type == ZIPC_TYPE_TENSOR && zp_tensor_parse(m->data, m->size, &h) == 0;
    PyObject *dt = tensor ? dtype_of(&h) : NULL;
    if (!dt)
        PyErr_Clear(); /* not a dtype NumPy has: the decoder says which */
    ViewObject *v = (ViewObject *)zp_view_new(owner, m);
    if (!v || (!dt && !(copy && m->type == ZIPC_TYPE_BYTES))) {
        Py_XDECREF(dt);
        return (PyObject *)v;
    }
    PyObject *r;
    if (dt) {
        v->tensor = 1;
        v->th = h;
        r = ndarray_over(&h, dt, (PyObject *)v);
        Py_DECREF(dt);
        if (r && copy) /* the copy owns its data: the in-place array, and so the View, go */
            Py_SETREF(r, PyObject_CallMethod(r, "copy", NULL));
    } else {
        r = PyBytes_FromStringAndSize(m->data, (Py_ssize_t)m->size);
    }
    Py_DECREF(v); /* kept by an in-place array; otherwise gone, its message given back */
    return r;
}

PyObject *zp_tensor_array(EndpointObject *owner, const struct zipc_msg *m)
{
    struct zipc_tensor_header h;
    PyObject *dt = tensor_of(m, &h) == 1 ? dtype_of(&h) : NULL;
    ViewObject *v = dt ? (ViewObject *)zp_view_new(owner, m) : NULL;
    PyObject *a = NULL;
    if (v) {
        v->tensor = 1;
        v->th = h;
        a = ndarray_over(&h, dt, (PyObject *)v);
        if (!a)
            v->disowned = true; /* the caller stashes the message */
    }
    Py_XDECREF(dt);
    Py_XDECREF(v); /* the array holds it */
    return a;
}
