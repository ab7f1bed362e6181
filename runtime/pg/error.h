// Errors of the native PostgreSQL layer. Asynchronous operations deliver an `Error` value to
// their callback; exceptions are thrown only for synchronous misuse of the API (`UsageError`).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

namespace puff::pg {

class Result;

struct Error {
  enum class Kind {
    connect_failed,   // the server refused us or could not be reached
    query_failed,     // the server reported an error for a statement (sqlstate is set)
    connection_lost,  // the connection broke during an operation
    timeout,          // a client-side deadline passed (connect_timeout)
    pool_timeout,     // no pooled connection became free within acquire_timeout
    cancelled,        // the operation was abandoned by the caller
    closed,           // the connection or pool was closed
    copy_refused,     // execute() met COPY FROM STDIN / TO STDOUT: copy() runs those
  };

  Kind kind = Kind::query_failed;
  std::string sqlstate;  // five characters when the server sent one, else empty
  std::string message;   // one line: what went wrong and, where we know it, what to do
  std::string detail;    // the server's DETAIL, if any
  std::string hint;      // the server's HINT, if any
  // query_failed: the server's error result itself, for drivers that expose every diagnostic
  // field and libpq's full message text (psycopg2's pgerror and diag).
  std::shared_ptr<const Result> server_result;
};

// "connect_failed", "query_failed", ...: stable names for logs and the Python layer.
const char* kind_name(Error::Kind kind);

// Thrown for synchronous misuse: a second operation on a busy connection, an empty Lease.
class UsageError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace puff::pg
