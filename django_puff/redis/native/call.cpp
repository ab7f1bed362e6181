#include "call.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "convert.h"
#include "python/wait.h"

namespace puff::python::redis_client {
namespace {

// Filled on an IO thread, read by the waiter after the completion: the wait orders the two.
// Heap-owned by the callback too, so an abandoned wait (killed greenlet, Ctrl-C) leaves
// nothing dangling.
template <class Value>
struct Outcome {
  std::optional<redis::Error> error;
  Value value{};
};

template <class Value, class Callback>
std::shared_ptr<Outcome<Value>> wait_for(const std::function<void(Callback)>& submit) {
  auto outcome = std::make_shared<Outcome<Value>>();
  bool finished = wait_native([&](Completion completion) {
    submit([outcome, completion](std::optional<redis::Error> error, Value value) {
      outcome->error = std::move(error);
      outcome->value = std::move(value);
      completion.complete();
    });
  });
  return finished ? outcome : nullptr;
}

}  // namespace

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
  auto outcome = wait_for<redis::Reply>(submit);
  if (!outcome) return nullptr;
  if (outcome->error) return raise_error(*outcome->error);
  PyRef reply = to_python(outcome->value);
  if (reply && outcome->value.is_error()) {
    PyErr_SetObject(exceptions().response_error, reply.get());
    return nullptr;
  }
  return reply.release();
}

PyObject* call_batch(const std::function<void(redis::Connection::BatchCallback)>& submit) {
  auto outcome = wait_for<std::vector<redis::Reply>>(submit);
  if (!outcome) return nullptr;
  if (outcome->error) return raise_error(*outcome->error);
  const auto& replies = outcome->value;
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
  struct Lent {
    std::optional<redis::Error> error;
    redis::Dedicated lease;
  };
  auto lent = std::make_shared<Lent>();
  bool finished = wait_native([&](Completion completion) {
    pool.dedicated([lent, completion](std::optional<redis::Error> error, redis::Dedicated lease) {
      lent->error = std::move(error);
      lent->lease = std::move(lease);
      completion.complete();
    });
  });
  if (!finished) return false;  // the lease, when it comes, goes back to the pool with `lent`
  if (lent->error) {
    raise_error(*lent->error);
    return false;
  }
  *out = std::move(lent->lease);
  return true;
}

}  // namespace puff::python::redis_client
