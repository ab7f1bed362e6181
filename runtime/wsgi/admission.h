// max_active_requests: at most this many requests run at once per worker; the others wait,
// parsed, in arrival order. A request counts while it runs, not while it waits on its client
// (a body still arriving, a response the client reads slowly): slow clients must not take the
// slots from everyone else. Hub thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "http/exchange.h"

namespace puff::wsgi {

class Admission;

// One started request's place in the count.
class AdmissionSlot {
 public:
  explicit AdmissionSlot(std::shared_ptr<Admission> admission) : admission_(std::move(admission)) {}

  // The request waits on its client: it stops counting (a waiting request may start).
  void client_wait_begins();
  // It runs again and counts again, at once, even past the limit: waiting for a slot here
  // could deadlock with what it holds (a database connection the running requests wait for).
  void client_wait_ends();
  void finished();

 private:
  std::shared_ptr<Admission> admission_;
  bool counted_ = true;
  bool finished_ = false;
};

class Admission : public std::enable_shared_from_this<Admission> {
 public:
  // Starts the request's greenlet, which calls slot->finished() when it ends; false when it
  // could not start (it printed why).
  using Launch =
      std::function<bool(std::shared_ptr<http::Exchange>, std::shared_ptr<AdmissionSlot>)>;

  Admission(std::size_t max_active, Launch launch)
      : max_active_(max_active), launch_(std::move(launch)) {}

  void admit(std::shared_ptr<http::Exchange> exchange);  // starts it now or queues it
  // The server stops: nothing more starts; the queued requests are answered by ~Exchange.
  void close();

 private:
  friend class AdmissionSlot;

  bool has_room() const { return max_active_ == 0 || active_ < max_active_; }
  void start(std::shared_ptr<http::Exchange> exchange);
  void slot_freed();
  void drop_abandoned(http::Exchange& exchange);
  void log_abandoned();

  std::size_t max_active_;  // 0: no limit
  Launch launch_;
  std::size_t active_ = 0;  // started, not finished, not waiting on their clients
  bool closed_ = false;
  std::deque<std::shared_ptr<http::Exchange>> waiting_;
  std::uint64_t abandoned_unlogged_ = 0;  // dropped queued requests not logged yet
  std::optional<std::chrono::steady_clock::time_point> abandoned_logged_at_;
};

}  // namespace puff::wsgi
