/* Message: a received message, copied out of the ring. recv_many makes one
 * per message, so it is small: no GC (it holds a bytes object, which cannot
 * form a cycle) and the type id kept as a C integer until asked for. It
 * behaves as the pair (type_id, data): unpacking, indexing, equality and
 * hashing as that tuple, so send_many takes it back as it came. */
#include "_zipc.h"

typedef struct {
    PyObject_HEAD
    uint32_t type;
    PyObject *data; /* bytes */
} MessageObject;

/* Dead Messages kept for reuse: recv_many makes and drops one per message,
 * and a reused one costs no allocator round trip. Under the GIL; the type
 * cannot be subclassed, so every Message has the same size. */
#define FREELIST_MAX 4096
static MessageObject *freelist[FREELIST_MAX];
static int freelist_n;

static PyObject *message_make(PyTypeObject *t, uint32_t type, PyObject *data)
{
    MessageObject *m;
    if (freelist_n > 0) {
        m = freelist[--freelist_n];
#if defined(Py_REF_DEBUG) || defined(Py_TRACE_REFS)
        (void)PyObject_Init((PyObject *)m, t); /* the debug builds' reference bookkeeping */
#else
        Py_SET_REFCNT(m, 1); /* its type is still set: a static type, never subclassed */
#endif
    } else if (!(m = PyObject_New(MessageObject, t))) {
        Py_DECREF(data);
        return NULL;
    }
    m->type = type;
    m->data = data; /* stolen */
    return (PyObject *)m;
}

void zp_message_freelist_clear(void)
{
    while (freelist_n)
        PyObject_Free(freelist[--freelist_n]);
}

PyObject *zp_message_new(uint32_t type, const void *data, size_t size)
{
    PyObject *bytes = PyBytes_FromStringAndSize(size < ZP_COPY_NOGIL ? data : NULL, (Py_ssize_t)size);
    if (!bytes)
        return NULL;
    if (size >= ZP_COPY_NOGIL)
        zp_copy(PyBytes_AS_STRING(bytes), data, size);
    return message_make(&ZpMessage_Type, type, bytes);
}

bool zp_message_parts(PyObject *obj, uint32_t *type, PyObject **data)
{
    if (!PyObject_TypeCheck(obj, &ZpMessage_Type))
        return false;
    *type = ((MessageObject *)obj)->type;
    *data = ((MessageObject *)obj)->data;
    return true;
}

static PyObject *Message_new(PyTypeObject *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"type_id", "data", NULL};
    uint32_t type;
    PyObject *data;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O:Message", kwlist, zp_type_id, &type, &data))
        return NULL;
    PyObject *bytes = PyBytes_FromObject(data);
    return bytes ? message_make(t, type, bytes) : NULL;
}

static void Message_dealloc(MessageObject *m)
{
    Py_DECREF(m->data);
    if (freelist_n < FREELIST_MAX)
        freelist[freelist_n++] = m;
    else
        Py_TYPE(m)->tp_free((PyObject *)m);
}

/* The message as the tuple (type_id, data). */
static PyObject *as_tuple(MessageObject *m)
{
    PyObject *type = PyLong_FromUnsignedLong(m->type);
    PyObject *t = type ? PyTuple_Pack(2, type, m->data) : NULL;
    Py_XDECREF(type);
    return t;
}

static Py_ssize_t Message_len(PyObject *Py_UNUSED(m)) { return 2; }

static PyObject *Message_item(MessageObject *m, Py_ssize_t i)
{
    if (i == 0)
        return PyLong_FromUnsignedLong(m->type);
    if (i == 1)
        return Py_NewRef(m->data);
    PyErr_SetString(PyExc_IndexError, "Message index out of range (type_id, data)");
    return NULL;
}

static PyObject *Message_richcompare(MessageObject *m, PyObject *other, int op)
{
    PyObject *mine = as_tuple(m), *theirs = NULL, *r = NULL;
    if (PyObject_TypeCheck(other, &ZpMessage_Type))
        other = theirs = as_tuple((MessageObject *)other);
    else if (!PyTuple_Check(other)) {
        Py_XDECREF(mine);
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (mine && other)
        r = PyObject_RichCompare(mine, other, op);
    Py_XDECREF(mine);
    Py_XDECREF(theirs);
    return r;
}

static Py_hash_t Message_hash(MessageObject *m)
{
    PyObject *t = as_tuple(m);
    Py_hash_t h = t ? PyObject_Hash(t) : -1;
    Py_XDECREF(t);
    return h;
}

static PyObject *Message_repr(MessageObject *m)
{
    return PyUnicode_FromFormat("zipc.Message(type_id=%lu, data=%R)", (unsigned long)m->type, m->data);
}

static PyObject *Message_reduce(MessageObject *m, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(O(kO))", (PyObject *)Py_TYPE(m), (unsigned long)m->type, m->data);
}

static PyObject *Message_get_type(MessageObject *m, void *Py_UNUSED(c)) { return PyLong_FromUnsignedLong(m->type); }
static PyObject *Message_get_data(MessageObject *m, void *Py_UNUSED(c)) { return Py_NewRef(m->data); }

static PyGetSetDef Message_getset[] = {
    {"type_id", (getter)Message_get_type, NULL, "The message's 32-bit type id.", NULL},
    {"data", (getter)Message_get_data, NULL, "The payload (bytes).", NULL},
    {NULL},
};

static PyMethodDef Message_methods[] = {
    {"__reduce__", (PyCFunction)Message_reduce, METH_NOARGS, NULL},
    {NULL},
};

static PySequenceMethods Message_as_sequence = {
    .sq_length = Message_len,
    .sq_item = (ssizeargfunc)Message_item,
};

PyTypeObject ZpMessage_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zipc.Message",
    .tp_basicsize = sizeof(MessageObject),
    .tp_dealloc = (destructor)Message_dealloc,
    .tp_repr = (reprfunc)Message_repr,
    .tp_as_sequence = &Message_as_sequence,
    .tp_hash = (hashfunc)Message_hash,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Message(type_id, data): a received message (a copy). Unpacks, indexes and compares "
              "as the pair (type_id, data).",
    .tp_richcompare = (richcmpfunc)Message_richcompare,
    .tp_methods = Message_methods,
    .tp_getset = Message_getset,
    .tp_new = Message_new,
};
