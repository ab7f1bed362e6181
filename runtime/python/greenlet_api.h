// greenlet's C API behind plain functions. greenlet.h keeps its API table in a `static`
// variable, so exactly one translation unit (greenlet_api.cpp) may include it.
// All functions need the GIL. Greenlet pointers are PyObject* (borrowed unless PyRef).
#pragma once

#include "python/pyref.h"

namespace puff::python::greenlet {

// Imports greenlet's C API; false with a Python exception set when greenlet is missing.
bool import_api();

PyRef current();                                     // greenlet.getcurrent()
PyRef create(PyObject* run, PyObject* parent);       // greenlet.greenlet(run, parent)
// g.switch(); the result is what the next switch back passed, or nullptr with an exception set.
PyRef switch_to(PyObject* greenlet);
// g.throw(exception instance); same result convention as switch_to.
PyRef throw_into(PyObject* greenlet, PyObject* exception);
bool is_active(PyObject* greenlet);   // started and not finished
bool is_started(PyObject* greenlet);
bool is_dead(PyObject* greenlet);     // started and finished
PyObject* greenlet_exit_type();       // borrowed: greenlet.GreenletExit
bool is_greenlet(PyObject* object);

}  // namespace puff::python::greenlet
