// The one shape in which a native layer's failure reaches Python: every driver package turns
// its C++ error value (pg::Error, redis::Error) into this in one function and raises it as the
// exception class it chooses; the instance carries the shape as attributes.
#pragma once

#include <string_view>

#include "python/compat.h"

namespace puff::python {

struct NativeErrorShape {
  std::string_view kind;     // the layer's stable kind name: "connect_failed", "timeout", ...
  std::string_view code;     // the server's code: a SQLSTATE, a Redis error prefix (WRONGTYPE)
  std::string_view message;  // one line (or the server's full text)
  std::string_view detail;   // the server's detail, if any
};

// Sets `type(message)` as the pending exception, with attributes kind, code, message, detail
// and the items of `extra` (a dict, may be null). Returns nullptr, for `return raise_...`.
PyObject* raise_native_error(PyObject* type, const NativeErrorShape& shape,
                             PyObject* extra = nullptr);

// The same instance, not raised (a pipeline keeps an error reply in its place). New
// reference, or nullptr with an exception set.
PyObject* new_native_error(PyObject* type, const NativeErrorShape& shape,
                           PyObject* extra = nullptr);

}  // namespace puff::python
