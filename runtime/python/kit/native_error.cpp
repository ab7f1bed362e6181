#include "python/kit/native_error.h"

#include "python/pyref.h"

namespace puff::python {
namespace {

// Server text may be in any encoding: never fail over it.
PyRef text(std::string_view value) {
  return PyRef::steal(
      PyUnicode_DecodeUTF8(value.data(), static_cast<Py_ssize_t>(value.size()), "replace"));
}

}  // namespace

PyObject* new_native_error(PyObject* type, const NativeErrorShape& shape, PyObject* extra) {
  PyRef message = text(shape.message);
  if (!message) return nullptr;
  PyRef error = PyRef::steal(PyObject_CallOneArg(type, message.get()));
  if (!error) return nullptr;
  const std::pair<const char*, std::string_view> fields[] = {
      {"kind", shape.kind}, {"code", shape.code}, {"detail", shape.detail}};
  for (const auto& [name, value] : fields) {
    PyRef field = text(value);
    if (!field || PyObject_SetAttrString(error.get(), name, field.get()) < 0) return nullptr;
  }
  if (PyObject_SetAttrString(error.get(), "message", message.get()) < 0) return nullptr;
  if (extra) {
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(extra, &position, &key, &value)) {
      if (PyObject_SetAttr(error.get(), key, value) < 0) return nullptr;
    }
  }
  return error.release();
}

PyObject* raise_native_error(PyObject* type, const NativeErrorShape& shape, PyObject* extra) {
  PyRef error = PyRef::steal(new_native_error(type, shape, extra));
  if (error) PyErr_SetObject(type, error.get());
  return nullptr;
}

}  // namespace puff::python
