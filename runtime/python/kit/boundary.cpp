#include "python/kit/boundary.h"

#include <cxxabi.h>

#include <cstdlib>
#include <string>
#include <typeinfo>
#include <vector>

namespace puff::python {
namespace {

std::vector<ExceptionTranslator>& translators() {
  static auto* all = new std::vector<ExceptionTranslator>;  // GIL-guarded, never destroyed
  return *all;
}

std::string type_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  return name;
}

}  // namespace

void register_exception_translator(ExceptionTranslator translate) {
  for (ExceptionTranslator known : translators()) {
    if (known == translate) return;  // a module imported again
  }
  translators().push_back(translate);
}

void set_error_from_exception() noexcept {
  try {
    throw;
  } catch (const ErrorAlreadySet&) {
    if (!PyErr_Occurred()) {
      PyErr_SetString(PyExc_SystemError, "puff: an error was reported without a Python exception");
    }
  } catch (const std::exception& error) {
    for (ExceptionTranslator translate : translators()) {
      if (translate(error)) return;
    }
    PyErr_Format(PyExc_SystemError, "puff: C++ exception %s: %s",
                 type_name(typeid(error)).c_str(), error.what());
  } catch (...) {
    PyErr_SetString(PyExc_SystemError, "puff: unknown C++ exception");
  }
}

namespace detail {

void report_unraisable() noexcept { PyErr_WriteUnraisable(nullptr); }

}  // namespace detail
}  // namespace puff::python
