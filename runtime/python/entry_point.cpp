#include "python/entry_point.h"

#include <iostream>

namespace puff::python {

PyRef resolve_callable(const std::string& label, const std::string& module_name,
                      const std::string& attribute) {
  PyRef module = PyRef::steal(PyImport_ImportModule(module_name.c_str()));
  if (!module) {
    if (PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
      SavedException error = SavedException::fetch();
      PyRef missing = PyRef::steal(PyObject_GetAttrString(error.value.get(), "name"));
      PyErr_Clear();
      std::string missing_name =
          missing && PyUnicode_Check(missing.get()) ? PyUnicode_AsUTF8(missing.get()) : "";
      if (!missing_name.empty() && (module_name == missing_name ||
                                    module_name.rfind(missing_name + ".", 0) == 0)) {
        std::cerr << label << ": no module named '" << missing_name
                  << "' (looked in the project directory and the virtualenv; check the name "
                     "or install it)\n";
        return {};
      }
      error.restore();
    }
    PyErr_Print();
    return {};
  }
  PyRef object = module;
  size_t start = 0;
  while (start <= attribute.size()) {
    size_t dot = attribute.find('.', start);
    std::string part = attribute.substr(start, dot == std::string::npos ? dot : dot - start);
    PyRef next = PyRef::steal(PyObject_GetAttrString(object.get(), part.c_str()));
    if (!next) {
      PyErr_Clear();
      std::cerr << label << ": module '" << module_name << "' has no attribute '" << attribute
                << "'\n";
      return {};
    }
    object = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!PyCallable_Check(object.get())) {
    std::cerr << label << ": '" << module_name << ":" << attribute << "' is not callable\n";
    return {};
  }
  return object;
}

}  // namespace puff::python
