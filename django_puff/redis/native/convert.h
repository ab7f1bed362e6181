// Between Python values and the native Redis layer: command arguments in, replies and errors
// out. Python-facing: GIL held in every function.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "python/pyref.h"
#include "redis/connection.h"
#include "redis/error.h"
#include "redis/pool.h"
#include "redis/reply.h"

namespace puff::redis_client {

using python::PyRef;

// The module's exception classes (made once by add_exceptions).
struct Exceptions {
  python::Pinned<> redis_error;       // RedisError(Exception): every error below
  python::Pinned<> connection_error;  // unreachable, lost, closed, no connection up
  python::Pinned<> timeout_error;     // no reply within the timeout
  python::Pinned<> response_error;    // the server answered with an error (WRONGTYPE ...)
};
const Exceptions& exceptions();
// Throws ErrorAlreadySet.
void add_exceptions(PyObject* module);

// One command's arguments as views: bytes, str (UTF-8), int, float, bytearray and memoryview
// are sent as Redis expects them; anything else (None, bool, dict, ...) is a DataError-like
// TypeError naming the argument. The views point into the Python objects (kept alive by the
// caller) or into `storage` (numbers formatted here; a deque so views stay put).
class Arguments {
 public:
  // false with a Python exception set.
  bool add(PyObject* value);
  bool add_all(PyObject* const* values, Py_ssize_t count);
  bool add_sequence(PyObject* sequence);  // a tuple or list of arguments
  const std::vector<std::string_view>& views() const { return views_; }
  bool empty() const { return views_.empty(); }

 private:
  bool add_text(PyObject* new_text);  // takes the reference; copies the UTF-8 into storage_
  std::vector<std::string_view> views_;
  std::deque<std::string> storage_;
  std::vector<Py_buffer> buffers_;  // released by the destructor

 public:
  Arguments() = default;
  ~Arguments();
  Arguments(const Arguments&) = delete;
  Arguments& operator=(const Arguments&) = delete;
};

// Commands (a sequence of tuples or lists of arguments) as a batch of views.
class CommandBatch {
 public:
  bool parse(PyObject* commands);  // false with a Python exception set
  bool empty() const { return commands_.empty(); }
  const std::vector<redis::Connection::Command>& commands() const { return commands_; }

 private:
  std::vector<std::unique_ptr<Arguments>> arguments_;
  std::vector<redis::Connection::Command> commands_;
};

// nil -> None, integer -> int, status -> str, bulk string -> bytes, array -> list; an error
// reply becomes a ResponseError instance (returned, not raised: a pipeline keeps its place)
// whose `code` is the reply's prefix (WRONGTYPE, ERR, ...).
PyRef to_python(const redis::Reply& reply);

// A pool's statistics as a dict (the keys of redis::PoolStats).
PyObject* stats_dict(const redis::PoolStats& stats);

// The one place a redis::Error becomes Python: ConnectionError, TimeoutError or RedisError
// with the native error shape (kind, code, message, detail; python/kit/native_error.h).
// Returns nullptr.
PyObject* raise_error(const redis::Error& error);

}  // namespace puff::redis_client
