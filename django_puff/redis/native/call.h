// Runs one native Redis operation and waits for it (a parked greenlet in the hub, a blocked
// thread with the GIL released elsewhere), then turns the outcome into Python values.
// Python-facing: GIL held.
#pragma once

#include <functional>

#include "python/pyref.h"
#include "convert.h"
#include "redis/connection.h"
#include "redis/pool.h"

namespace puff::redis_client {

// `timeout` from Python: None -> the pool's command timeout, else seconds (0 = none).
// false with a Python exception set for a negative or non-number value.
bool parse_timeout(PyObject* value, double* timeout_s);

// The trailing `timeout=` keyword of a vectorcall (the only keyword execute() takes).
bool timeout_keyword(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                     double* timeout_s);

// submit(done) queues one command; returns its reply (a ResponseError reply is raised), or
// nullptr with the exception set.
PyObject* call_one(const std::function<void(redis::Connection::ReplyCallback)>& submit);

// submit(done) queues a batch; returns the list of replies (error replies as ResponseError
// instances in their place), or nullptr.
PyObject* call_batch(const std::function<void(redis::Connection::BatchCallback)>& submit);

// Lends a dedicated connection of `pool` into *out; false with the exception set.
bool borrow_dedicated(redis::Pool& pool, redis::Dedicated* out);

using python::PyRef;

// The bodies of Pool.execute and Dedicated.execute(_many): `resolve()` returns the target (a
// redis::Pool or redis::Connection: execute(views, done, timeout) and execute_batch(commands,
// done, timeout)) or nullptr with an exception set.
template <class Resolve>
PyObject* execute_vectorcall(Resolve resolve, PyObject* const* args, Py_ssize_t nargs,
                             PyObject* kwnames) {
  double timeout_s = 0;
  if (!timeout_keyword(args, nargs, kwnames, &timeout_s)) return nullptr;
  if (nargs == 0) {
    PyErr_SetString(PyExc_TypeError, "execute() needs a command name");
    return nullptr;
  }
  auto* target = resolve();
  if (!target) return nullptr;
  Arguments command;
  if (!command.add_all(args, nargs)) return nullptr;
  return call_one([&](redis::Connection::ReplyCallback done) {
    target->execute(command.views(), std::move(done), timeout_s);
  });
}

template <class Resolve>
PyObject* execute_many_call(Resolve resolve, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"commands", "timeout", nullptr};
  PyObject* commands_arg = nullptr;
  PyObject* timeout_arg = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:execute_many", const_cast<char**>(keywords),
                                   &commands_arg, &timeout_arg)) {
    return nullptr;
  }
  double timeout_s = 0;
  if (!parse_timeout(timeout_arg, &timeout_s)) return nullptr;
  auto* target = resolve();
  if (!target) return nullptr;
  CommandBatch batch;
  if (!batch.parse(commands_arg)) return nullptr;
  if (batch.empty()) return PyList_New(0);
  return call_batch([&](redis::Connection::BatchCallback done) {
    target->execute_batch(batch.commands(), std::move(done), timeout_s);
  });
}

}  // namespace puff::redis_client
