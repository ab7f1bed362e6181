// Ownership of Python references, visible in types:
//   PyRef      - an OWNED (strong) reference; releases it on destruction.
//   PyObject*  - BORROWED, only inside the Python glue, never stored beyond the call.
// Every refcount change needs the GIL; debug builds assert it.
#pragma once

#include <cassert>
#include <utility>

#include "python/compat.h"

namespace puff::python {

inline void assert_gil_held() { assert(PyGILState_Check()); }

class PyRef {
 public:
  PyRef() = default;
  // Takes over a new reference (the result of most C API calls); nullptr allowed.
  static PyRef steal(PyObject* object) { return PyRef(object); }
  // Adds a reference to a borrowed pointer.
  static PyRef borrow(PyObject* object) {
    if (object) {
      assert_gil_held();
      Py_INCREF(object);
    }
    return PyRef(object);
  }
  PyRef(const PyRef& other) : object_(other.object_) {
    if (object_) {
      assert_gil_held();
      Py_INCREF(object_);
    }
  }
  PyRef(PyRef&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  PyRef& operator=(PyRef other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  ~PyRef() { reset(); }

  void reset() {
    if (object_) {
      assert_gil_held();
      Py_DECREF(std::exchange(object_, nullptr));
    }
  }
  PyObject* get() const { return object_; }
  // Gives the reference away (e.g. as a function's return value).
  PyObject* release() { return std::exchange(object_, nullptr); }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  explicit PyRef(PyObject* object) : object_(object) {}
  PyObject* object_ = nullptr;
};

// Releases the GIL for its scope (around a blocking wait). Nothing may touch Python inside.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) {}
  ~GilRelease() { PyEval_RestoreThread(state_); }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

// Holds the GIL for its scope from a thread that may not have it (pool and watchdog threads).
class GilAcquire {
 public:
  GilAcquire() : state_(PyGILState_Ensure()) {}
  ~GilAcquire() { PyGILState_Release(state_); }
  GilAcquire(const GilAcquire&) = delete;
  GilAcquire& operator=(const GilAcquire&) = delete;

 private:
  PyGILState_STATE state_;
};

// The pending Python exception, saved so that it can be re-raised later (e.g. in another
// greenlet). Empty when none was pending.
struct SavedException {
  PyRef value;  // 3.11 normalizes type/value/traceback into the instance
  static SavedException fetch() {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (!type) return {};
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback) PyException_SetTraceback(value, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return {PyRef::steal(value)};
  }
  // Sets it as the pending exception (keeps a copy).
  void restore() const {
    PyObject* v = value.get();
    PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(v));
    Py_INCREF(type);
    Py_INCREF(v);
    PyErr_Restore(type, v, PyException_GetTraceback(v));  // steals all three
  }
};

}  // namespace puff::python
