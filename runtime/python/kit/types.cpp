#include "python/kit/types.h"

#include <map>

namespace puff::python {
namespace {

// tp_name -> instances alive. GIL-guarded; never destroyed (objects may die at exit).
std::map<std::string, long>& live_counts() {
  static auto* counts = new std::map<std::string, long>;
  return *counts;
}

}  // namespace

PyTypeObject* add_type(PyObject* module, const char* name, PyType_Spec& spec,
                       Pinned<PyTypeObject>& type) {
  if (!type) type.pin(PyRef::steal(require(PyType_FromSpec(&spec))));
  add_object(module, name, reinterpret_cast<PyObject*>(type.get()));
  return type.get();
}

void add_object(PyObject* module, const char* name, PyObject* object) {
  require(PyModule_AddObjectRef(module, name, object) == 0);
}

PyRef create_module(PyModuleDef& definition) {
  return PyRef::steal(require(PyModule_Create(&definition)));
}

void count_born(PyTypeObject* type) { ++live_counts()[type->tp_name]; }

void count_died(PyTypeObject* type) { --live_counts()[type->tp_name]; }

PyObject* live_objects_dict(PyObject*, PyObject*) {
  PyRef out = PyRef::steal(require(PyDict_New()));
  for (const auto& [name, count] : live_counts()) {
    PyRef value = PyRef::steal(require(PyLong_FromLong(count)));
    require(PyDict_SetItemString(out.get(), name.c_str(), value.get()) == 0);
  }
  return out.release();
}

}  // namespace puff::python
