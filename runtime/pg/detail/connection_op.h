// The operation a pg::Connection has in flight (private to connection*.cpp).
#pragma once

#include <cstddef>
#include <exception>
#include <optional>
#include <string>

#include "core/log.h"
#include "pg/connection.h"

namespace puff::pg {

struct Connection::Op {
  ConnectCallback on_connect;
  QueryCallback on_query;
  CopyCallback on_copy;  // copy(): the step in flight; empty while the caller has the turn
  QueryOutcome outcome;

  bool copy_mode = false;        // started by copy(): a COPY waits for the caller
  bool ended = false;            // copy(): ended between two steps (closed); the next call says so
  std::optional<std::string> abort_reason;  // copy_abort(): ends every remaining COPY

  // COPY FROM STDIN: the caller's chunk, the part of it libpq has queued, and the end to send
  // (CopyDone, or CopyFail with end_reason) once the chunk is out.
  std::string copy_data;
  std::size_t copy_sent = 0;
  bool copy_ending = false;
  std::optional<std::string> end_reason;

  // COPY TO STDOUT: copy_data gathers the batch; rows are dropped when nobody wants them
  // (execute(), copy_abort()); `copy_out_done` once libpq reported the end of the data.
  bool discard_copy_out = false;
  bool copy_out_done = false;
};

namespace detail {

// Calls a user callback: an exception escaping it is logged and swallowed (it must not unwind
// through Asio's handlers or libpq).
template <class Call>
void run_callback(const Call& call) {
  try {
    call();
  } catch (const std::exception& e) {
    core::log_error("pg: a connection callback threw (ignored): ", e.what());
  } catch (...) {
    core::log_error("pg: a connection callback threw a non-standard exception (ignored)");
  }
}

}  // namespace detail
}  // namespace puff::pg
