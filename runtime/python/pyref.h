// Ownership of Python references, visible in types:
//   PyRef      - an OWNED (strong) reference; releases it on destruction.
//   Borrowed   - a BORROWED reference stored for a span its owner outlives.
//   Pinned     - an OWNED reference kept for the process's life (never released at exit).
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

// A BORROWED reference kept for a known span (e.g. the task the hub is resuming): it adds no
// reference, so the owner named where it is stored must outlive its use.
class Borrowed {
 public:
  Borrowed() = default;
  explicit Borrowed(PyObject* object) : object_(object) {}
  PyObject* get() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  PyObject* object_ = nullptr;
};

// An OWNED reference kept for the rest of the process (a module's exception class, a type,
// a registry set once): never released at exit, when no interpreter may be left to release
// it. pin() replaces the value (a module imported again), releasing the previous one.
template <class T = PyObject>
class Pinned {
 public:
  T* get() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }
  void pin(PyRef ref) {
    PyRef previous = PyRef::steal(reinterpret_cast<PyObject*>(object_));
    object_ = reinterpret_cast<T*>(ref.release());
  }

 private:
  T* object_ = nullptr;
};

// An interned str kept for the process's life, for attribute names looked up on hot paths:
// `static const InternedName name("_conn");` (made on first use, GIL held).
class InternedName {
 public:
  explicit InternedName(const char* text) { name_.pin(PyRef::steal(PyUnicode_InternFromString(text))); }
  PyObject* get() const { return name_.get(); }

 private:
  Pinned<> name_;
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
  PyRef value;  // the instance, its traceback attached
  static SavedException fetch() { return {PyRef::steal(compat::take_raised_exception())}; }
  // Sets it as the pending exception (keeps a copy).
  void restore() const { compat::set_raised_exception(Py_NewRef(value.get())); }
};

}  // namespace puff::python
