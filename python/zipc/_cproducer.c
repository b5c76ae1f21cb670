/* examples/c_producer.c compiled into the extension, so `python -m
 * zipc.bench` runs its C rows from a plain install, without a source tree
 * or a compiler: the benchmark starts it in a child process with
 * _zipc._c_producer([path, mode, ...]). The producer loop is that file's C,
 * untouched; only its main is renamed. */
#include "_zipc.h"

int zipc__c_producer_main(int argc, char **argv);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment" /* its usage line shows a src/ glob */
#define main zipc__c_producer_main
#include "../../examples/c_producer.c"
#undef main
#pragma GCC diagnostic pop

PyObject *zp_c_producer(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *seq = PySequence_Fast(args, "_c_producer() takes a list of str arguments");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    char **argv = PyMem_Calloc((size_t)n + 2, sizeof *argv);
    int rc = argv ? 0 : -1;
    if (argv)
        argv[0] = "c_producer";
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
        if (!(argv[i + 1] = (char *)PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i))))
            rc = -1;
    if (rc == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = zipc__c_producer_main((int)n + 1, argv);
        Py_END_ALLOW_THREADS
    }
    PyMem_Free(argv);
    Py_DECREF(seq);
    if (!argv)
        return PyErr_NoMemory();
    return rc < 0 ? NULL : PyLong_FromLong(rc);
}
