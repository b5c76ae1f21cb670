/* zipc._zipc.Store: a tensor store handle (zipc/store.h), and Tensor, one
 * of its tensors as a DLPack exporter. The Python layer (_store.py) turns
 * sources into the arguments of _publish_file / _publish_tensors and builds
 * NumPy arrays over the store's read-only buffer.
 *
 * Lifetime: every export of the mapping holds a reference on the Store and
 * counts in `exports`: a Tensor while it lives (NumPy arrays have it as
 * their base, DLPack capsules hold a reference on it), and a verify running
 * without the GIL. close() with exports alive closes the handle for calls at
 * once and unmaps when the last export goes, as a channel with live views
 * does: no pointer handed out ever outlives the mapping. */
#include "_zipc.h"

typedef struct {
    PyObject_HEAD
    zipc_store *s;          /* NULL once really closed */
    const uint8_t *base;    /* the mapping */
    size_t size;
    Py_ssize_t exports;     /* Tensor objects alive, verify calls running */
    bool closing;           /* closed for calls; unmapped when exports is 0 */
    PyObject *weakreflist;
} StoreObject;

typedef struct {
    PyObject_HEAD
    StoreObject *store;
    PyObject *name;
    const void *data;
    Py_ssize_t size;
    zp_dl_desc d;
} StoreTensorObject;

_Static_assert(ZIPC_STORE_MAX_NDIM <= ZP_DL_MAX_NDIM, "a store tensor fits a DLPack export");

/* ------------------------------------------------------------------------
 * Lifetime
 * ------------------------------------------------------------------------ */

static void store_close_now(StoreObject *self)
{
    zipc_store *s = self->s;
    self->s = NULL;
    self->base = NULL;
    self->size = 0;
    if (s) {
        Py_BEGIN_ALLOW_THREADS
        zipc_store_close(s); /* stops the door's thread: a short wait */
        Py_END_ALLOW_THREADS
    }
}

static void store_unexport(StoreObject *self)
{
    if (--self->exports == 0 && self->closing)
        store_close_now(self);
}


static int store_check(StoreObject *self)
{
    if (self->s && !self->closing)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the store is closed");
    return -1;
}

static PyObject *store_wrap(PyTypeObject *cls, zipc_store *s)
{
    StoreObject *self = (StoreObject *)cls->tp_alloc(cls, 0);
    if (!self) {
        zipc_store_close(s);
        return NULL;
    }
    self->s = s;
    self->base = zipc_store_base(s, &self->size);
    return (PyObject *)self;
}

static void Store_dealloc(StoreObject *self)
{
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    store_close_now(self); /* every export held a reference: none is left */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Store_close(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    self->closing = true;
    if (self->exports == 0)
        store_close_now(self);
    Py_RETURN_NONE;
}

static PyObject *Store_enter(PyObject *self, PyObject *Py_UNUSED(ignored)) { return Py_NewRef(self); }

static PyObject *Store_exit(StoreObject *self, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(nargs))
{
    Py_DECREF(Store_close(self, NULL));
    Py_RETURN_FALSE;
}

/* ------------------------------------------------------------------------
 * Publish and open
 * ------------------------------------------------------------------------ */

struct store_args {
    struct zipc_store_options o;
    struct zipc_store_kv *meta;
    PyObject *meta_seq;
    char why[512];
};

/* metadata: a sequence of (str, str); timeout: seconds or None. */
static int store_options(struct store_args *a, PyObject *timeout, unsigned long long align,
                         unsigned long long max_segment, PyObject *metadata)
{
    memset(a, 0, sizeof *a);
    int64_t ns;
    if (!zp_timeout(timeout, &ns))
        return -1;
    a->o.options.timeout_ns = ns ? ns : 1; /* 0 would mean the default */
    a->o.options.max_segment = max_segment;
    a->o.align = align;
    a->o.error = a->why;
    a->o.error_len = sizeof a->why;
    if (metadata == Py_None)
        return 0;
    if (!(a->meta_seq = PySequence_Fast(metadata, "metadata must be a sequence of (key, value)")))
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(a->meta_seq);
    if (!(a->meta = PyMem_Calloc(n ? (size_t)n : 1, sizeof *a->meta))) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key, *value;
        Py_ssize_t klen, vlen;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(a->meta_seq, i), "UU:metadata", &key, &value) ||
            !(a->meta[i].key = PyUnicode_AsUTF8AndSize(key, &klen)) ||
            !(a->meta[i].value = PyUnicode_AsUTF8AndSize(value, &vlen)))
            return -1;
        if ((size_t)klen != strlen(a->meta[i].key)) {
            PyErr_SetString(PyExc_ValueError, "a metadata key must not contain NUL");
            return -1;
        }
        a->meta[i].value_len = (size_t)vlen;
    }
    a->o.metadata = a->meta;
    a->o.nmeta = (size_t)n;
    return 0;
}

static void store_args_free(struct store_args *a)
{
    PyMem_Free(a->meta);
    Py_XDECREF(a->meta_seq);
}

/* -EBADMSG from a publish carries its reason; ENOENT names what is missing. */
static PyObject *publish_error(int rc, const struct store_args *a, PyObject *path)
{
    if (rc == -EBADMSG && a->why[0])
        return zp_raise_text(EBADMSG, a->why);
    return zp_raise_path(rc, rc == -ENOENT ? path : NULL);
}

/* _publish_file(name, path, align, metadata, timeout, max_segment, flags) */
static PyObject *Store_publish_file(PyTypeObject *cls, PyObject *args)
{
    const char *name;
    PyObject *path = NULL, *metadata, *timeout, *r = NULL;
    unsigned long long align, max_segment;
    unsigned flags;
    struct store_args a;
    if (!PyArg_ParseTuple(args, "sO&KOOKI:_publish_file", &name, PyUnicode_FSConverter, &path, &align,
                          &metadata, &timeout, &max_segment, &flags))
        return NULL;
    if (store_options(&a, timeout, align, max_segment, metadata) == 0) {
        a.o.flags = flags;
        zipc_store *s = NULL;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = zipc_store_publish_safetensors(&s, name, PyBytes_AS_STRING(path), &a.o);
        Py_END_ALLOW_THREADS
        r = rc ? publish_error(rc, &a, path) : store_wrap(cls, s);
    }
    store_args_free(&a);
    Py_DECREF(path);
    return r;
}

/* items: (name, dtype id, shape, C-contiguous buffer) each; *bufs are
 * filled as they are taken (the caller releases the first *taken). */
static int publish_items(PyObject *items, struct zipc_store_tensor *t, Py_buffer *bufs, Py_ssize_t *taken)
{
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(items); i++) {
        PyObject *name, *shape_obj, *data;
        unsigned dtype;
        Py_ssize_t ndim, len;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(items, i), "UIOO:tensor", &name, &dtype, &shape_obj,
                              &data) ||
            !(t[i].name = PyUnicode_AsUTF8AndSize(name, &len)) || zp_parse_shape(shape_obj, t[i].shape, &ndim) ||
            PyObject_GetBuffer(data, &bufs[i], PyBUF_C_CONTIGUOUS))
            return -1;
        (*taken)++;
        if ((size_t)len != strlen(t[i].name)) {
            PyErr_SetString(PyExc_ValueError, "a tensor name must not contain NUL");
            return -1;
        }
        t[i].dtype = dtype;
        t[i].ndim = (uint32_t)ndim;
        t[i].data = bufs[i].buf;
        t[i].size = (uint64_t)bufs[i].len;
    }
    return 0;
}

/* _publish_tensors(name, items, align, metadata, timeout, max_segment, flags) */
static PyObject *Store_publish_tensors(PyTypeObject *cls, PyObject *args)
{
    const char *name;
    PyObject *items_obj, *metadata, *timeout, *r = NULL;
    unsigned long long align, max_segment;
    unsigned flags;
    struct store_args a;
    if (!PyArg_ParseTuple(args, "sOKOOKI:_publish_tensors", &name, &items_obj, &align, &metadata, &timeout,
                          &max_segment, &flags))
        return NULL;
    PyObject *items = PySequence_Fast(items_obj, "tensors must be a sequence");
    if (!items)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items), taken = 0;
    struct zipc_store_tensor *t = PyMem_Calloc(n ? (size_t)n : 1, sizeof *t);
    Py_buffer *bufs = PyMem_Calloc(n ? (size_t)n : 1, sizeof *bufs);
    if (!t || !bufs)
        PyErr_NoMemory();
    else if (store_options(&a, timeout, align, max_segment, metadata) == 0 &&
             publish_items(items, t, bufs, &taken) == 0) {
        a.o.flags = flags;
        zipc_store *s = NULL;
        int rc;
        Py_BEGIN_ALLOW_THREADS /* copies and hashes every byte */
        rc = zipc_store_publish(&s, name, t, (size_t)n, &a.o);
        Py_END_ALLOW_THREADS
        r = rc ? publish_error(rc, &a, NULL) : store_wrap(cls, s);
    }
    if (t && bufs)
        store_args_free(&a);
    for (Py_ssize_t i = 0; i < taken; i++)
        PyBuffer_Release(&bufs[i]);
    PyMem_Free(t);
    PyMem_Free(bufs);
    Py_DECREF(items);
    return r;
}

/* _open(name, flags, timeout) */
static PyObject *Store_open(PyTypeObject *cls, PyObject *args)
{
    const char *name;
    unsigned flags;
    PyObject *timeout;
    struct store_args a;
    if (!PyArg_ParseTuple(args, "sIO:_open", &name, &flags, &timeout) ||
        store_options(&a, timeout, 0, 0, Py_None))
        return NULL;
    a.o.flags = flags;
    zipc_store *s = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS /* a handshake; with VERIFY, hashes every byte */
    rc = zipc_store_open(&s, name, &a.o);
    Py_END_ALLOW_THREADS
    if (rc == 0)
        return store_wrap(cls, s);
    if (rc != -ENOENT)
        return zp_raise(rc);
    PyObject *n = PyBytes_FromString(name), *r = n ? zp_raise_path(rc, n) : NULL;
    Py_XDECREF(n);
    return r;
}

/* ------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------ */

/* key: a name (str; KeyError when missing) or an index (IndexError). */
static int store_find(StoreObject *self, PyObject *key, struct zipc_store_info *info)
{
    if (store_check(self))
        return -1;
    int rc;
    if (PyUnicode_Check(key)) {
        Py_ssize_t len;
        const char *name = PyUnicode_AsUTF8AndSize(key, &len);
        if (!name)
            return -1;
        rc = (size_t)len == strlen(name) ? zipc_store_find(self->s, name, info) : -ENOENT;
        if (rc == -ENOENT)
            PyErr_SetObject(PyExc_KeyError, key);
    } else if (PyLong_Check(key)) {
        Py_ssize_t i = PyLong_AsSsize_t(key);
        if (i == -1 && PyErr_Occurred())
            return -1;
        rc = i < 0 ? -ENOENT : zipc_store_tensor_at(self->s, (size_t)i, info);
        if (rc == -ENOENT)
            PyErr_SetString(PyExc_IndexError, "tensor index out of range");
    } else {
        PyErr_Format(PyExc_TypeError, "a tensor name is a str, not %.100s", Py_TYPE(key)->tp_name);
        return -1;
    }
    if (rc && rc != -ENOENT)
        zp_raise(rc);
    return rc ? -1 : 0;
}

static PyObject *int64_tuple(const int64_t *a, uint32_t n)
{
    PyObject *t = PyTuple_New(n);
    for (uint32_t i = 0; t && i < n; i++) {
        PyObject *x = PyLong_FromLongLong(a[i]);
        if (!x)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

/* _info(name or index) -> (name, dtype, shape, strides, nbytes, xxh3,
 * offset, address, bits, index) */
static PyObject *Store_info(StoreObject *self, PyObject *key)
{
    struct zipc_store_info i;
    if (store_find(self, key, &i))
        return NULL;
    PyObject *shape = int64_tuple(i.shape, i.ndim), *strides = int64_tuple(i.strides, i.ndim), *r = NULL;
    if (shape && strides)
        r = Py_BuildValue("(s#sOOKKnnII)", i.name, (Py_ssize_t)i.name_len, zipc_store_dtype_name(i.dtype), shape,
                          strides, (unsigned long long)i.size, (unsigned long long)i.xxh3,
                          (Py_ssize_t)((const uint8_t *)i.data - self->base), (Py_ssize_t)(uintptr_t)i.data,
                          i.bits, i.index);
    Py_XDECREF(shape);
    Py_XDECREF(strides);
    return r;
}

static Py_ssize_t Store_len(StoreObject *self)
{
    if (store_check(self))
        return -1;
    return zipc_store_count(self->s);
}

static int Store_contains(StoreObject *self, PyObject *key)
{
    struct zipc_store_info i;
    if (!PyUnicode_Check(key))
        return 0;
    if (store_find(self, key, &i) == 0)
        return 1;
    if (!PyErr_ExceptionMatches(PyExc_KeyError))
        return -1;
    PyErr_Clear();
    return 0;
}

static PyObject *Store_verify(StoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"name", NULL};
    PyObject *arg[1];
    struct zipc_store_info info;
    if (zp_args("verify", args, nargs, kwnames, names, 1, 0, arg) || store_check(self))
        return NULL;
    size_t which = ZIPC_STORE_ALL;
    if (arg[0] && arg[0] != Py_None) {
        if (store_find(self, arg[0], &info))
            return NULL;
        which = info.index;
    }
    const zipc_store *s = self->s;
    int rc;
    self->exports++; /* close() from another thread waits for the hash to end */
    Py_BEGIN_ALLOW_THREADS
    rc = zipc_store_verify(s, which);
    Py_END_ALLOW_THREADS
    store_unexport(self);
    if (rc == -EBADMSG)
        return zp_raise_text(EBADMSG, which == ZIPC_STORE_ALL ? "a tensor's checksum does not match the store's table"
                                                              : "the tensor's checksum does not match the store's table");
    return rc ? zp_raise(rc) : Py_NewRef(Py_None);
}

static PyObject *Store_get_metadata(StoreObject *self, void *Py_UNUSED(c))
{
    if (store_check(self))
        return NULL;
    PyObject *d = PyDict_New();
    int n = zipc_store_metadata_count(self->s);
    for (int i = 0; d && i < n; i++) {
        struct zipc_store_kv kv;
        PyObject *v = NULL;
        if (zipc_store_metadata_at(self->s, (size_t)i, &kv) == 0 &&
            (v = PyUnicode_DecodeUTF8(kv.value, (Py_ssize_t)kv.value_len, "replace")) != NULL &&
            PyDict_SetItemString(d, kv.key, v) == 0) {
            Py_DECREF(v);
            continue;
        }
        Py_XDECREF(v);
        Py_CLEAR(d);
    }
    return d;
}

static PyObject *Store_get_version(StoreObject *self, void *Py_UNUSED(c))
{
    return store_check(self) ? NULL : PyLong_FromUnsignedLongLong(zipc_store_version(self->s));
}

static PyObject *Store_get_page_size(StoreObject *self, void *Py_UNUSED(c))
{
    return store_check(self) ? NULL : PyLong_FromSize_t(zipc_store_page_size(self->s));
}

static PyObject *Store_get_latest(StoreObject *self, void *Py_UNUSED(c))
{
    return store_check(self) ? NULL : PyLong_FromUnsignedLongLong(zipc_store_latest(self->s));
}

static PyObject *Store_get_closed(StoreObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(!self->s || self->closing);
}

static PyObject *Store_get_nbytes(StoreObject *self, void *Py_UNUSED(c))
{
    return store_check(self) ? NULL : PyLong_FromSize_t(self->size);
}

/* ------------------------------------------------------------------------
 * Tensor: one tensor, an export of the mapping while it lives: NumPy arrays
 * (its read-only buffer is the tensor's bytes) and DLPack capsules (each
 * holds a reference on it) keep it.
 * ------------------------------------------------------------------------ */

/* DLPack (code, bits) of each store dtype; the 8-bit floats DLPack 1.0
 * lacks (and torch before 2.1) go as uint8, the packed 6- and 4-bit ones
 * as their raw bytes. */
static const struct { uint8_t code, bits; } dl_dtypes[ZIPC_STORE_NDTYPES] = {
    [ZIPC_STORE_BOOL] = {ZIPC_DTYPE_BOOL, 8},     [ZIPC_STORE_U8] = {ZIPC_DTYPE_UINT, 8},
    [ZIPC_STORE_I8] = {ZIPC_DTYPE_INT, 8},        [ZIPC_STORE_U16] = {ZIPC_DTYPE_UINT, 16},
    [ZIPC_STORE_I16] = {ZIPC_DTYPE_INT, 16},      [ZIPC_STORE_U32] = {ZIPC_DTYPE_UINT, 32},
    [ZIPC_STORE_I32] = {ZIPC_DTYPE_INT, 32},      [ZIPC_STORE_U64] = {ZIPC_DTYPE_UINT, 64},
    [ZIPC_STORE_I64] = {ZIPC_DTYPE_INT, 64},      [ZIPC_STORE_F16] = {ZIPC_DTYPE_FLOAT, 16},
    [ZIPC_STORE_BF16] = {ZIPC_DTYPE_BFLOAT, 16},  [ZIPC_STORE_F32] = {ZIPC_DTYPE_FLOAT, 32},
    [ZIPC_STORE_F64] = {ZIPC_DTYPE_FLOAT, 64},    [ZIPC_STORE_C64] = {ZIPC_DTYPE_COMPLEX, 64},
    [ZIPC_STORE_F8_E4M3] = {ZIPC_DTYPE_UINT, 8},  [ZIPC_STORE_F8_E5M2] = {ZIPC_DTYPE_UINT, 8},
    [ZIPC_STORE_F8_E4M3FNUZ] = {ZIPC_DTYPE_UINT, 8}, [ZIPC_STORE_F8_E5M2FNUZ] = {ZIPC_DTYPE_UINT, 8},
    [ZIPC_STORE_F8_E8M0] = {ZIPC_DTYPE_UINT, 8},  [ZIPC_STORE_F6_E2M3] = {ZIPC_DTYPE_UINT, 8},
    [ZIPC_STORE_F6_E3M2] = {ZIPC_DTYPE_UINT, 8},  [ZIPC_STORE_F4] = {ZIPC_DTYPE_UINT, 8},
};

static void desc_of(const struct zipc_store_info *i, zp_dl_desc *d)
{
    memset(d, 0, sizeof *d);
    d->data = (void *)i->data;
    d->code = dl_dtypes[i->dtype].code;
    d->bits = dl_dtypes[i->dtype].bits;
    d->lanes = 1;
    if (i->bits < 8) { /* packed: its bytes */
        d->ndim = 1;
        d->shape[0] = (int64_t)i->size;
        d->strides[0] = 1;
        return;
    }
    d->ndim = (int32_t)i->ndim;
    memcpy(d->shape, i->shape, sizeof i->shape);
    memcpy(d->strides, i->strides, sizeof i->strides);
}

/* A Tensor of `key`; raw: exported as unsigned integers of its element's
 * size (bool as uint8, for consumers without DLPack's bool: torch < 2). */
static PyObject *store_tensor(StoreObject *self, PyObject *key, bool raw)
{
    struct zipc_store_info i;
    if (!PyUnicode_Check(key)) {
        PyErr_Format(PyExc_TypeError, "a tensor name is a str, not %.100s", Py_TYPE(key)->tp_name);
        return NULL;
    }
    if (store_find(self, key, &i))
        return NULL;
    StoreTensorObject *t = PyObject_New(StoreTensorObject, &ZpStoreTensor_Type);
    if (!t)
        return NULL;
    t->store = (StoreObject *)Py_NewRef(self);
    t->name = Py_NewRef(key);
    t->data = i.data;
    t->size = (Py_ssize_t)i.size;
    desc_of(&i, &t->d);
    if (raw)
        t->d.code = ZIPC_DTYPE_UINT;
    self->exports++;
    return (PyObject *)t;
}

static PyObject *Store_tensor(StoreObject *self, PyObject *key) { return store_tensor(self, key, false); }
static PyObject *Store_tensor_raw(StoreObject *self, PyObject *key) { return store_tensor(self, key, true); }

static void StoreTensor_dealloc(StoreTensorObject *t)
{
    store_unexport(t->store);
    Py_DECREF(t->store);
    Py_DECREF(t->name);
    PyObject_Free(t);
}

static int StoreTensor_getbuffer(StoreTensorObject *t, Py_buffer *view, int flags)
{
    if (flags & PyBUF_WRITABLE) { /* NumPy asks this first */
        PyErr_SetString(PyExc_BufferError, "the store is read-only");
        view->obj = NULL;
        return -1;
    }
    return PyBuffer_FillInfo(view, (PyObject *)t, (void *)t->data, t->size, 1, flags);
}

static PyBufferProcs StoreTensor_as_buffer = {.bf_getbuffer = (getbufferproc)StoreTensor_getbuffer};

static void capsule_end(PyObject *Py_UNUSED(owner)) {} /* its reference on the Tensor was the export */

static PyObject *StoreTensor_dlpack(StoreTensorObject *t, PyObject *args, PyObject *kw)
{
    int versioned = zp_dlpack_args(args, kw);
    return versioned < 0 ? NULL : zp_dlpack_capsule((PyObject *)t, capsule_end, &t->d, versioned);
}

static PyObject *StoreTensor_repr(StoreTensorObject *t)
{
    return PyUnicode_FromFormat("<zipc.Store tensor %R>", t->name);
}

static PyObject *StoreTensor_get_name(StoreTensorObject *t, void *Py_UNUSED(c)) { return Py_NewRef(t->name); }
static PyObject *StoreTensor_get_store(StoreTensorObject *t, void *Py_UNUSED(c)) { return Py_NewRef(t->store); }

static PyMethodDef StoreTensor_methods[] = {
    {"__dlpack__", (PyCFunction)(void (*)(void))StoreTensor_dlpack, METH_VARARGS | METH_KEYWORDS,
     "DLPack export without copying. Read-only: the versioned capsule (max_version >= (1, 0)) carries the "
     "read-only flag; the memory is mapped PROT_READ, a write faults. BF16 exports as bfloat16, the 8-bit "
     "floats as uint8, the packed 6- and 4-bit floats as their bytes (uint8[nbytes])."},
    {"__dlpack_device__", zp_dlpack_device, METH_NOARGS, "(1, 0): CPU."},
    {NULL},
};

static PyGetSetDef StoreTensor_getset[] = {
    {"name", (getter)StoreTensor_get_name, NULL, "The tensor's name.", NULL},
    {"store", (getter)StoreTensor_get_store, NULL, "The Store it belongs to.", NULL},
    {NULL},
};

PyTypeObject ZpStoreTensor_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc.StoreTensor",
    .tp_basicsize = sizeof(StoreTensorObject),
    .tp_dealloc = (destructor)StoreTensor_dealloc,
    .tp_repr = (reprfunc)StoreTensor_repr,
    .tp_as_buffer = &StoreTensor_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One tensor of a Store, for torch.from_dlpack / numpy.from_dlpack (zero-copy, read-only). "
              "It keeps the store's mapping alive, and so do the arrays and capsules made from it.",
    .tp_methods = StoreTensor_methods,
    .tp_getset = StoreTensor_getset,
};

/* ------------------------------------------------------------------------
 * The type
 * ------------------------------------------------------------------------ */

static PyObject *Store_new_refused(PyTypeObject *Py_UNUSED(t), PyObject *Py_UNUSED(a), PyObject *Py_UNUSED(k))
{
    PyErr_SetString(PyExc_TypeError, "use zipc.Store.publish() or zipc.Store.open()");
    return NULL;
}

static PyMethodDef Store_methods[] = {
    {"_publish_file", (PyCFunction)Store_publish_file, METH_VARARGS | METH_CLASS,
     "_publish_file(name, path, align, metadata, timeout, max_segment, flags): zipc_store_publish_safetensors."},
    {"_publish_tensors", (PyCFunction)Store_publish_tensors, METH_VARARGS | METH_CLASS,
     "_publish_tensors(name, [(name, dtype_id, shape, buffer)], align, metadata, timeout, max_segment, flags)."},
    {"_open", (PyCFunction)Store_open, METH_VARARGS | METH_CLASS, "_open(name, flags, timeout)."},
    {"_info", (PyCFunction)Store_info, METH_O,
     "_info(name or index) -> (name, dtype, shape, strides, nbytes, xxh3, offset, address, bits, index)."},
    {"tensor", (PyCFunction)Store_tensor, METH_O,
     "tensor(name) -> an exporter of __dlpack__ (torch.from_dlpack, numpy.from_dlpack): zero-copy, read-only."},
    {"_tensor_raw", (PyCFunction)Store_tensor_raw, METH_O,
     "_tensor_raw(name): tensor(name) exported as unsigned integers of its element's size."},
    {"verify", (PyCFunction)(void (*)(void))Store_verify, METH_FASTCALL | METH_KEYWORDS,
     "verify(name=None): recompute the XXH3-64 of one tensor (or of all, in parallel for a large store) "
     "and compare it with the table's; CorruptedError on a mismatch. Releases the GIL."},
    {"close", (PyCFunction)Store_close, METH_NOARGS,
     "Leave: stop serving the name, unmap once no array or DLPack tensor of it is left. Idempotent."},
    {"__enter__", Store_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Store_exit, METH_FASTCALL, NULL},
    {NULL},
};

static PyGetSetDef Store_getset[] = {
    {"metadata", (getter)Store_get_metadata, NULL, "The store's metadata pairs: a new dict {str: str}.", NULL},
    {"version", (getter)Store_get_version, NULL, "This handle's version (1, then +1 for each publish of the name).", NULL},
    {"latest", (getter)Store_get_latest, NULL,
     "The newest version published under the name (>= version): a newer one exists when it is greater.", NULL},
    {"closed", (getter)Store_get_closed, NULL, "True once close() ran.", NULL},
    {"page_size", (getter)Store_get_page_size, NULL,
     "The page size of the version's memory: 2 MiB for hugetlb pages (publish(huge_pages=True)), else 4096.",
     NULL},
    {"nbytes", (getter)Store_get_nbytes, NULL, "The size of the mapped segment.", NULL},
    {NULL},
};

static PySequenceMethods Store_as_sequence = {.sq_contains = (objobjproc)Store_contains};
static PyMappingMethods Store_as_mapping = {.mp_length = (lenfunc)Store_len};

PyTypeObject ZpStore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc._zipc.Store",
    .tp_basicsize = sizeof(StoreObject),
    .tp_dealloc = (destructor)Store_dealloc,
    .tp_as_sequence = &Store_as_sequence,
    .tp_as_mapping = &Store_as_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_weaklistoffset = offsetof(StoreObject, weakreflist),
    .tp_doc = "A tensor store handle (see zipc.Store).",
    .tp_methods = Store_methods,
    .tp_getset = Store_getset,
    .tp_new = Store_new_refused,
};

/* _zipc.STORE_DTYPES: the dtype names in the order of their ids. */
int zp_store_add_dtypes(PyObject *m)
{
    PyObject *t = PyTuple_New(ZIPC_STORE_NDTYPES);
    for (uint32_t i = 0; t && i < ZIPC_STORE_NDTYPES; i++) {
        PyObject *s = PyUnicode_FromString(zipc_store_dtype_name(i));
        if (!s)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, i, s);
    }
    int rc = t ? PyModule_AddObjectRef(m, "STORE_DTYPES", t) : -1;
    Py_XDECREF(t);
    return rc;
}
