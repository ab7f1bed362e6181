// The common case of psycopg2's client-side interpolation in C++: `%s` / `%(name)s` / `%%`
// with None, bool, int, float and str values whose default adapters are registered, on a UTF-8
// connection. Anything else returns None and psycopg2/_adapt.py's Python path (the reference
// behaviour, errors included) runs instead. GIL held.
#pragma once

#include <Python.h>

namespace puff::psycopg {

// Adds mogrify_fast() and set_quoting() to the module. Throws ErrorAlreadySet.
void add_fast_mogrify(PyObject* module);

}  // namespace puff::psycopg
