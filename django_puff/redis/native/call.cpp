#include "call.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "convert.h"
#include "python/kit/await_native.h"

namespace puff::redis_client {
bool parse_timeout(PyObject* value, double* timeout_s) {
  if (!value || value == Py_None) {
    *timeout_s = redis::Connection::kDefaultTimeout;
    return true;
  }
  double seconds = PyFloat_AsDouble(value);
  if (seconds == -1 && PyErr_Occurred()) return false;
  if (!(seconds >= 0)) {
    PyErr_SetString(PyExc_ValueError, "timeout must be None or a number of seconds >= 0");
    return false;
  }
  *timeout_s = seconds;
  return true;
}

bool timeout_keyword(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                     double* timeout_s) {
  PyObject* value = nullptr;
  if (kwnames) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); ++i) {
      if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "timeout") != 0) {
        PyErr_Format(PyExc_TypeError, "execute() got an unexpected keyword argument %R",
                     PyTuple_GET_ITEM(kwnames, i));
        return false;
      }
      value = args[nargs + i];
    }
  }
  return parse_timeout(value, timeout_s);
}

PyObject* call_one(const std::function<void(redis::Connection::ReplyCallback)>& submit) {
  auto delivered = python::await_native<std::optional<redis::Error>, redis::Reply>(
      [&](auto deliver) { submit(std::move(deliver)); });
  if (!delivered) return nullptr;
  auto& [error, value] = *delivered;
  if (error) return raise_error(*error);
  PyRef reply = to_python(value);
  if (reply && value.is_error()) {
    PyErr_SetObject(exceptions().response_error.get(), reply.get());
    return nullptr;
  }
  return reply.release();
}

PyObject* call_batch(const std::function<void(redis::Connection::BatchCallback)>& submit) {
  auto delivered = python::await_native<std::optional<redis::Error>, std::vector<redis::Reply>>(
      [&](auto deliver) { submit(std::move(deliver)); });
  if (!delivered) return nullptr;
  auto& [error, replies] = *delivered;
  if (error) return raise_error(*error);
  PyRef list = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(replies.size())));
  if (!list) return nullptr;
  for (size_t i = 0; i < replies.size(); ++i) {
    PyRef item = to_python(replies[i]);
    if (!item) return nullptr;
    PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), item.release());
  }
  return list.release();
}

bool borrow_dedicated(redis::Pool& pool, redis::Dedicated* out) {
  // An interrupted wait leaves the slot to the callback: the lease, when it comes, goes back
  // to the pool with it.
  auto delivered = python::await_native<std::optional<redis::Error>, redis::Dedicated>(
      [&](auto deliver) { pool.dedicated(std::move(deliver)); });
  if (!delivered) return false;
  auto& [error, lease] = *delivered;
  if (error) {
    raise_error(*error);
    return false;
  }
  *out = std::move(lease);
  return true;
}

}  // namespace puff::redis_client
