// A bounded pool of connections for one named [[postgres]] entry.
//
// acquire() hands out a connection as a move-only Lease; waiters are served FIFO and fail with
// Error::pool_timeout after acquire_timeout. A Lease returns its connection on destruction; a
// connection that comes back inside a transaction is rolled back first (or discarded), never
// handed to the next user dirty. Broken connections are dropped and replaced on demand. While
// the server refuses us, one connect at a time: kOnDemandSpacing apart while acquirers wait (so
// that they get a connection as soon as the server is back), with exponential backoff otherwise
// (min_size). A pool that has never connected fails its waiters with the connect error at once
// instead (its settings are likely wrong). Idle connections are checked before lending when idle
// too long or when the server hung up on them (a restart). The loss of the server and its return
// are logged once each (core::ServerOutage). Every public member is thread-safe; callbacks run
// on the IO threads and must not throw.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/pool_lease.h"
#include "core/server_outage.h"
#include "pg/connection.h"
#include "pg/error.h"

namespace puff::pg {

struct PoolOptions {
  std::string name = "default";
  std::string conninfo;
  int min_size = 1;
  int max_size = 10;
  double acquire_timeout_s = 10.0;
  // Idle longer than this: checked with an empty query before use (0 = always, < 0 = never).
  // A connection the server has hung up on or sent something unasked is checked regardless.
  double health_check_after_s = 30.0;
  double connect_timeout_s = 10.0;     // also bounds a health check's round trip
  double statement_timeout_s = 0.0;    // 0 = none
  double reconnect_backoff_max_s = 10.0;
  std::string application_name;        // "" keeps the conninfo's
  // Acquire callbacks may run on the thread that frees or lends the connection (even inside
  // acquire()) instead of always on an IO thread: for callers whose callback only hands the
  // lease over and wakes a waiter (the driver), a freed connection then reaches the next
  // waiter without two thread hops.
  bool inline_callbacks = false;
};

struct PoolStats {
  std::string name;
  int min = 0;
  int max = 0;
  int size = 0;     // open or opening connections
  int idle = 0;
  int in_use = 0;   // leased, or being checked / rolled back
  int opening = 0;  // connects in progress
  int waiting = 0;
  std::uint64_t acquired_total = 0;
  // Time acquirers that got a connection spent waiting for it (acquired_total of them): the
  // average says whether max_size is too small long before timeouts start.
  double acquire_wait_total_s = 0;
  double acquire_wait_max_s = 0;
  std::uint64_t timeouts_total = 0;
  std::uint64_t created_total = 0;
  std::uint64_t connect_failures_total = 0;
  std::uint64_t health_check_failures_total = 0;
  std::uint64_t dropped_total = 0;  // closed because broken, busy or unrecoverable on return
  std::string last_connect_error;   // "" once a connect succeeds again
};

class Pool;

// Exclusive use of one pooled connection; returns it to the pool when destroyed or released
// (rolled back if needed), or closes it when discarded.
inline constexpr char kLeaseName[] = "pg::Lease";
using Lease = core::PoolLease<Pool, Connection, UsageError, kLeaseName>;

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  using AcquireCallback = std::function<void(std::optional<Error>, Lease)>;
  // The time between connect attempts while the server refuses and acquirers wait: each attempt
  // costs the server a process (also while it starts up), so not much less.
  static constexpr auto kOnDemandSpacing = std::chrono::milliseconds(50);

  static std::shared_ptr<Pool> create(boost::asio::io_context& io, PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Opens min_size connections in the background (acquire() works without it).
  void start();
  // Calls `done` once, on an IO thread, with a Lease or an Error (pool_timeout, closed, or
  // connect_failed while the pool has never connected).
  void acquire(AcquireCallback done);
  // Any thread: a Lease on an idle connection at once when one is ready to lend without a
  // check (nobody waiting ahead, idle for less than health_check_after, nothing unasked on its
  // socket); otherwise nullopt, and acquire() does the rest. A busy pool's common case: no
  // timer, no thread hop.
  std::optional<Lease> try_acquire_now();
  // Closes idle connections, fails waiters with Error::closed; leased connections are closed
  // when they come back. Later acquires fail with Error::closed.
  void close();
  PoolStats stats() const;
  const PoolOptions& options() const { return options_; }

 private:
  friend Lease;
  struct Waiter;
  struct Idle {
    std::shared_ptr<Connection> connection;
    std::chrono::steady_clock::time_point since;
  };
  using Clock = std::chrono::steady_clock;
  using Actions = std::vector<std::function<void()>>;

  Pool(boost::asio::io_context& io, PoolOptions options);

  void give_back(std::shared_ptr<Connection> connection, bool discard);
  void pump();                        // matches idle connections to waiters, opens new ones
  void plan(Actions& actions);        // the part of pump() under the mutex
  // Under the mutex: when the next connect may start (now unless the last one failed), and the
  // retry timer that pumps then.
  Clock::time_point next_connect_at() const;
  void arm_retry_timer(Clock::time_point at);
  void fail_waiters_with_connect_error(Actions& actions);
  void open_connection();
  void on_connect_result(std::shared_ptr<Connection> connection, std::optional<Error> error);
  // Lends an idle connection, after an empty query when it may be dead (idle too long, or the
  // server sent something unasked, as it does when it shuts down or terminates the session).
  void lend_idle(std::shared_ptr<Waiter> waiter, std::shared_ptr<Connection> connection,
                 bool idle_too_long);
  void check_then_deliver(std::shared_ptr<Waiter> waiter, std::shared_ptr<Connection> connection);
  void deliver(std::shared_ptr<Waiter> waiter, std::shared_ptr<Connection> connection);
  void make_idle(std::shared_ptr<Connection> connection);
  void drop(const std::shared_ptr<Connection>& connection);
  void on_waiter_timeout(const std::shared_ptr<Waiter>& waiter);
  std::string timeout_message() const;
  void post_callback(AcquireCallback done, std::optional<Error> error, Lease lease);

  boost::asio::io_context& io_;
  const PoolOptions options_;

  mutable std::mutex mutex_;
  std::deque<Idle> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  int size_ = 0;        // every connection the pool owns: idle, leased, opening, checking
  int opening_ = 0;
  bool closed_ = false;
  int consecutive_failures_ = 0;
  Clock::time_point last_failure_at_{};
  // The retry timer's deadline while armed (max() when not); a sooner one re-arms it.
  Clock::time_point retry_at_ = Clock::time_point::max();
  boost::asio::steady_timer retry_timer_;
  core::ServerOutage outage_;
  PoolStats totals_;  // the cumulative fields (*_total, acquire waits, last_connect_error)
};

}  // namespace puff::pg
