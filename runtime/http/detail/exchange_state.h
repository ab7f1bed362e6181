// The connection's view of one exchange (request + response). Strand-only, except `head`
// (immutable once handed out).
#pragma once

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
  RequestHead head;
  std::chrono::steady_clock::time_point started;
  bool keep_alive = true;
  bool head_request = false;

  // Request body.
  bool body_done = false;
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
  std::optional<boost::asio::steady_timer> request_timer;
};

}  // namespace puff::http::detail
