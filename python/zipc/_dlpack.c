/* DLPack export of read-only CPU memory, shared by channel views (_view.c)
 * and store tensors (_store.c). Written from the DLPack specification (v1.0
 * ABI): the structures a "dltensor" / "dltensor_versioned" capsule points
 * to. Each capsule holds a reference on its owner, and tells it (release)
 * when the consumer is done with the memory. */
#include "_zipc.h"

typedef struct {
    int32_t device_type; /* kDLCPU = 1 */
    int32_t device_id;
} DLDevice;

typedef struct {
    uint8_t code;  /* zipc_dtype_code: the same numbering */
    uint8_t bits;
    uint16_t lanes;
} DLDataType;

typedef struct {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides; /* in elements */
    uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

typedef struct {
    uint32_t major;
    uint32_t minor;
} DLPackVersion;

typedef struct DLManagedTensorVersioned {
    DLPackVersion version;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensorVersioned *self);
    uint64_t flags;
    DLTensor dl_tensor;
} DLManagedTensorVersioned;

#define DL_CPU 1
#define DL_FLAG_READ_ONLY (UINT64_C(1) << 0)
#define DL_CAPSULE "dltensor"
#define DL_CAPSULE_VERSIONED "dltensor_versioned"

struct dl_export {
    union {
        DLManagedTensor legacy;
        DLManagedTensorVersioned versioned;
    } m;
    int64_t shape[ZP_DL_MAX_NDIM];
    int64_t strides[ZP_DL_MAX_NDIM];
    PyObject *owner;
    zp_dl_release release;
};

/* The consumer may call the deleter from any thread, with or without the GIL. */
static void export_free(struct dl_export *e)
{
    if (!Py_IsInitialized())
        return; /* interpreter gone: nothing left to give back */
    PyGILState_STATE g = PyGILState_Ensure();
    e->release(e->owner);
    Py_DECREF(e->owner);
    PyMem_RawFree(e);
    PyGILState_Release(g);
}

static void legacy_deleter(DLManagedTensor *m) { export_free(m->manager_ctx); }
static void versioned_deleter(DLManagedTensorVersioned *m) { export_free(m->manager_ctx); }

/* An unconsumed capsule still owns its tensor; a consumed one was renamed
 * ("used_dltensor...") and its consumer calls the deleter. */
static void capsule_destructor(PyObject *cap)
{
    if (PyCapsule_IsValid(cap, DL_CAPSULE)) {
        DLManagedTensor *m = PyCapsule_GetPointer(cap, DL_CAPSULE);
        m->deleter(m);
    } else if (PyCapsule_IsValid(cap, DL_CAPSULE_VERSIONED)) {
        DLManagedTensorVersioned *m = PyCapsule_GetPointer(cap, DL_CAPSULE_VERSIONED);
        m->deleter(m);
    }
}

static int check_dlpack_args(PyObject *stream, PyObject *dl_device, PyObject *copy)
{
    if (stream != Py_None) {
        PyErr_SetString(PyExc_BufferError, "zipc memory is CPU memory: stream must be None");
        return -1;
    }
    if (copy == Py_True) {
        PyErr_SetString(PyExc_BufferError, "zipc exports without copying (copy=True unsupported)");
        return -1;
    }
    if (dl_device != Py_None) {
        int type, id;
        if (!PyArg_ParseTuple(dl_device, "ii", &type, &id))
            return -1;
        if (type != DL_CPU || id != 0) {
            PyErr_SetString(PyExc_BufferError, "zipc memory can only be exported to the CPU");
            return -1;
        }
    }
    return 0;
}

int zp_dlpack_args(PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"stream", "max_version", "dl_device", "copy", NULL};
    PyObject *stream = Py_None, *max_version = Py_None, *dl_device = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOO:__dlpack__", kwlist, &stream, &max_version,
                                     &dl_device, &copy) ||
        check_dlpack_args(stream, dl_device, copy))
        return -1;
    if (max_version == Py_None)
        return 0;
    unsigned major, minor;
    if (!PyArg_ParseTuple(max_version, "II", &major, &minor))
        return -1;
    return major >= 1; /* versioned (read-only flag set) when the consumer takes 1.x */
}

PyObject *zp_dlpack_capsule(PyObject *owner, zp_dl_release release, const zp_dl_desc *d, int versioned)
{
    if (d->ndim < 0 || d->ndim > ZP_DL_MAX_NDIM) {
        PyErr_SetString(PyExc_BufferError, "too many dimensions for a DLPack export");
        return NULL;
    }
    struct dl_export *e = PyMem_RawCalloc(1, sizeof *e);
    if (!e)
        return PyErr_NoMemory();
    DLTensor *t = versioned ? &e->m.versioned.dl_tensor : &e->m.legacy.dl_tensor;
    memcpy(e->shape, d->shape, sizeof e->shape);
    memcpy(e->strides, d->strides, sizeof e->strides);
    *t = (DLTensor){
        .data = d->data,
        .device = {DL_CPU, 0},
        .ndim = d->ndim,
        .dtype = {d->code, d->bits, d->lanes},
        .shape = e->shape,
        .strides = e->strides,
        .byte_offset = 0,
    };
    if (versioned) {
        e->m.versioned.version = (DLPackVersion){1, 0};
        e->m.versioned.manager_ctx = e;
        e->m.versioned.deleter = versioned_deleter;
        e->m.versioned.flags = DL_FLAG_READ_ONLY;
    } else {
        e->m.legacy.manager_ctx = e;
        e->m.legacy.deleter = legacy_deleter;
    }
    PyObject *cap = PyCapsule_New(&e->m, versioned ? DL_CAPSULE_VERSIONED : DL_CAPSULE, capsule_destructor);
    if (!cap) {
        PyMem_RawFree(e);
        return NULL;
    }
    e->owner = Py_NewRef(owner);
    e->release = release;
    return cap;
}

PyObject *zp_dlpack_device(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(ii)", DL_CPU, 0);
}
