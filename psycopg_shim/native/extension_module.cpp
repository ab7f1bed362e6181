// The extension-module build of psycopg2._psycopg (plain python). Its entry point lives in the
// static library shared with puff's built-in; this reference makes the linker keep it.
#include <Python.h>

extern "C" PyObject* PyInit__psycopg();
[[gnu::used]] static PyObject* (*const keep_entry_point)() = &PyInit__psycopg;
