// Errors of the native Redis layer. Asynchronous operations deliver an `Error` value to their
// callback; exceptions are thrown only for synchronous misuse of the API (`UsageError`).
// A command the server answers with an error (WRONGTYPE, ...) is not an Error: it is a Reply of
// type error, and the connection stays usable.
#pragma once

#include <stdexcept>
#include <string>

namespace puff::redis {

struct Error {
  enum class Kind {
    connect_failed,   // unreachable, refused, or the handshake (AUTH, SELECT, PING) failed
    connection_lost,  // the connection broke with the command in flight: it may or may not have run
    timeout,          // no reply within the command (or connect) timeout; the connection was closed
    unavailable,      // the pool has no connection up (it keeps reconnecting in the background)
    refused,          // the command cannot run on a shared connection (MULTI, BLPOP, ...)
    protocol_error,   // the server sent something that is not RESP, or an unrequested reply
    closed,           // the connection or pool was closed
  };

  Kind kind = Kind::connection_lost;
  std::string message;  // one line: where, what went wrong and, where we know it, what to do
};

// "connect_failed", "timeout", ...: stable names for logs and the Python layer.
const char* kind_name(Error::Kind kind);

// Thrown for synchronous misuse: connect() twice, a bad URL given to a pool, an empty lease.
class UsageError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace puff::redis
