// Whether a pool (PostgreSQL, Redis) has its server, and the two log lines an outage gets: a
// warning when the pool loses it (its first failed connect after having connected, or at start),
// and an info line when it has it back, with how long it was down and how many requests failed
// meanwhile. A long outage is those two lines, not one per failed request or connect attempt.
// Not thread-safe: the pool calls it under its own mutex.
#pragma once

#include <cstdint>
#include <string>

#include "core/durations.h"

namespace puff::core {

class ServerOutage {
 public:
  // subject: "Redis pool 'default' at 127.0.0.1:6379"; requests: what failed ("commands").
  ServerOutage(std::string subject, std::string requests);

  // A connect attempt failed: the first one after a success (or at start) begins the outage.
  void connect_failed(const std::string& error);
  // A connect succeeded: ends the outage, if any.
  void connected();
  // A request failed for want of a connection (counted only during an outage).
  void request_failed() { failed_ += down_ ? 1 : 0; }
  bool down() const { return down_; }

 private:
  std::string subject_;
  std::string requests_;
  bool ever_connected_ = false;
  bool down_ = false;
  Clock::time_point since_{};
  std::uint64_t failed_ = 0;
};

}  // namespace puff::core
