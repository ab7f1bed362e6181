#include "python/greenlet_api.h"

#include <greenlet.h>

namespace puff::python::greenlet {

bool import_api() {
  PyGreenlet_Import();
  return _PyGreenlet_API != nullptr;
}

PyRef current() { return PyRef::steal(reinterpret_cast<PyObject*>(PyGreenlet_GetCurrent())); }

PyRef create(PyObject* run, PyObject* parent) {
  return PyRef::steal(reinterpret_cast<PyObject*>(
      PyGreenlet_New(run, reinterpret_cast<PyGreenlet*>(parent))));
}

PyRef switch_to(PyObject* greenlet) {
  return PyRef::steal(PyGreenlet_Switch(reinterpret_cast<PyGreenlet*>(greenlet), nullptr, nullptr));
}

PyRef throw_into(PyObject* greenlet, PyObject* exception) {
  PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(exception));
  PyRef traceback = PyRef::steal(PyException_GetTraceback(exception));
  return PyRef::steal(PyGreenlet_Throw(reinterpret_cast<PyGreenlet*>(greenlet), type, exception,
                                       traceback.get()));
}

bool is_active(PyObject* g) { return PyGreenlet_ACTIVE(reinterpret_cast<PyGreenlet*>(g)); }
bool is_started(PyObject* g) { return PyGreenlet_STARTED(reinterpret_cast<PyGreenlet*>(g)); }
bool is_dead(PyObject* g) { return is_started(g) && !is_active(g); }
PyObject* greenlet_exit_type() { return PyExc_GreenletExit; }
bool is_greenlet(PyObject* object) { return PyGreenlet_Check(object); }

}  // namespace puff::python::greenlet
