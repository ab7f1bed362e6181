// The connection's view of one exchange (request + response). Strand-only, except `head`
// (immutable once handed out).
#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/static_files.h"
#include "http/types.h"

namespace puff::http::detail {

struct ExchangeState {
  void set_body_done() {
    body_done = true;
    body_in.store(true, std::memory_order_relaxed);
  }

  RequestHead head;
  std::chrono::steady_clock::time_point started;
  bool keep_alive = true;
  bool head_request = false;

  // Request body.
  bool body_done = false;
  // Any thread: no read of the body will wait for the client any more (it is all here, or
  // failed).
  std::atomic<bool> body_in{false};
  bool prebuffering = false;  // read ahead before the handler gets the request
  std::string prebuffered;    // read ahead, from prebuffered_taken on not yet read_body()'s
  std::size_t prebuffered_taken = 0;
  std::string body_error;
  BodyCallback body_waiter;
  std::size_t body_max = 0;
  bool continue_sent = false;
  bool draining = false;  // the response is out; the rest of the body is read and dropped
  std::uint64_t drained = 0;

  // Response.
  enum class Framing { none, fixed, chunked, until_close };
  bool head_queued = false;
  bool finished = false;  // the last byte is queued
  bool failed = false;    // answered by the server itself (timeout, bad body): sends fail
  bool close_after = false;
  Framing framing = Framing::none;
  std::uint64_t remaining = 0;  // Framing::fixed
  int status = 0;
  std::uint64_t body_bytes = 0;
  struct Pending {
    std::string bytes;
    SendCallback done;
    std::shared_ptr<FileSegment> file;  // sent with sendfile(2) after `bytes`
  };
  std::vector<Pending> out;
  std::atomic<std::uint64_t> unsent{0};  // any thread: bytes of `out` and in the socket write
  std::optional<boost::asio::steady_timer> request_timer;
};

}  // namespace puff::http::detail
