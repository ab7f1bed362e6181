// Workers that accept on one shared listening socket (`puff runserver --workers N`) share out
// new connections by their open ones. The kernel wakes every worker for a new connection and
// the first one awake takes it, so a burst (wrk's or a proxy's pool of 256 connections) landed
// about 2:1 on one of 2 workers, and that worker's requests waited twice as long. Each worker
// publishes its open connections in memory the supervisor shared before forking; a worker more
// than kSlack ahead of the least loaded one leaves new connections to the others. The least
// loaded worker always accepts, so the backlog is never left unserved.
#pragma once

#include <atomic>
#include <memory>

namespace puff::http {

class AcceptBalance {
 public:
  static constexpr int kSlack = 2;

  // Shared anonymous memory for `slots` workers (fork after this); nullptr if mmap fails.
  static std::shared_ptr<AcceptBalance> create(int slots);
  ~AcceptBalance();
  AcceptBalance(const AcceptBalance&) = delete;
  AcceptBalance& operator=(const AcceptBalance&) = delete;

  int slots() const { return slots_; }

  // Worker (any thread): its open connections, or leave() when it stops accepting (a slot
  // that left, or was never taken, counts for nothing).
  void publish(int slot, int open_connections);
  void leave(int slot);

  // Whether the worker in `slot` with `open_connections` should take the next connection.
  bool may_accept(int slot, int open_connections) const;

 private:
  AcceptBalance(std::atomic<int>* counts, int slots) : counts_(counts), slots_(slots) {}

  std::atomic<int>* counts_;  // -1: no accepting worker there
  int slots_;
};

}  // namespace puff::http
