// The one boundary between C++ and CPython. Every function CPython calls (method, getter,
// setter, type slot, module init) is wrapped by `guarded<F>`, which catches everything once:
//   ErrorAlreadySet   - glue code saw a C API call fail; the Python exception is already set
//   a registered type - a driver's translator sets the matching Python exception
//   anything else     - SystemError naming the C++ exception (a bug: it must not crash)
// and returns the slot's error value (nullptr, -1). So glue code may throw anywhere and never
// writes a try/catch of its own at an entry point; C++ exceptions never reach CPython.
#pragma once

#include <cstddef>
#include <exception>
#include <type_traits>

#include "python/compat.h"

namespace puff::python {

// "A Python exception is set": thrown after a C API call returned its error value.
class ErrorAlreadySet final : public std::exception {
 public:
  const char* what() const noexcept override { return "a Python exception is set"; }
};

// Throws ErrorAlreadySet unless `ok`: `require(PyDict_SetItem(d, k, v) == 0)`.
inline void require(bool ok) {
  if (!ok) throw ErrorAlreadySet();
}
// Returns `object` or throws ErrorAlreadySet when it is null (a failed C API call).
template <class T>
T* require(T* object) {
  if (object == nullptr) throw ErrorAlreadySet();
  return object;
}

// A driver's translation of its own C++ exception types (e.g. a misuse error to its
// InterfaceError). Called inside a catch block with the exception; sets the Python exception
// and returns true when it knows the type. Register at module init; GIL held.
using ExceptionTranslator = bool (*)(const std::exception& error);
void register_exception_translator(ExceptionTranslator translate);

// Sets the Python exception for the C++ exception being handled (call inside a catch block).
void set_error_from_exception() noexcept;

namespace detail {

template <class R>
constexpr R error_result() {
  if constexpr (std::is_pointer_v<R>) {
    return nullptr;
  } else {
    return static_cast<R>(-1);  // int, Py_ssize_t, Py_hash_t: CPython's error value
  }
}

// For slots that cannot report an error (tp_dealloc, tp_finalize): printed, not lost.
void report_unraisable() noexcept;

template <auto F, class Signature = decltype(F)>
struct Guard;

template <auto F, class R, class... Args>
struct Guard<F, R (*)(Args...)> {
  static R call(Args... args) noexcept {
    try {
      return F(args...);
    } catch (...) {
      set_error_from_exception();
      if constexpr (std::is_void_v<R>) {
        report_unraisable();
      } else {
        return error_result<R>();
      }
    }
  }
};

}  // namespace detail

// `F` wrapped for CPython: same signature, noexcept, exceptions turned into Python errors.
template <auto F>
inline constexpr auto guarded = &detail::Guard<F>::call;

// The same boundary for glue that C++ calls (a hub callback making a Python object): runs `f`;
// on an exception the Python error is set and an empty result returned (a null PyRef).
template <class F>
auto catching(F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    set_error_from_exception();
    return {};
  }
}

}  // namespace puff::python
