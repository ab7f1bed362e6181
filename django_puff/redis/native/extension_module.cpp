// The extension-module build of django_puff._redis (plain python). Its entry point lives in the
// static library shared with puff's built-in; this reference makes the linker keep it.
#include <Python.h>

extern "C" PyObject* PyInit__redis();
[[gnu::used]] static PyObject* (*const keep_entry_point)() = &PyInit__redis;
