// The connections of one named [[redis]] entry, shared by everyone through automatic pipelining.
//
// execute() queues the command on one of `size` connections: the one whose queued commands no
// write has taken yet, else the next up in round robin. Commands issued close together from
// any threads leave in one write per connection and come back in order (see connection.h).
// Commands that would disturb other users of a shared connection (MULTI, WATCH, BLPOP,
// SUBSCRIBE, SELECT, ...) are refused with Error::refused;
// dedicated() lends a connection of its own for those.
//
// A lost connection is reopened at once. While no connection is up, the pool reconnects on
// demand: a command that finds no connect attempt under way starts one (at most one at a time,
// kOnDemandSpacing after the last failed one) and waits for it, so the first command after the
// server comes back succeeds. Without commands, attempts go on in the background with
// exponential backoff (50 ms doubling up to reconnect_backoff_max). Commands wait for an attempt
// under way (bounded by connect_timeout) unless the last one timed out (a silent server: they
// would all wait connect_timeout); otherwise they fail fast with Error::unavailable carrying the
// last connect error ("Redis pool 'default' at 127.0.0.1:6379: connection refused; ..."). The
// loss of the server and its return are logged once each (core::ServerOutage). Every public
// member is thread-safe; callbacks run on the IO threads, exactly once, and must not throw.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/durations.h"
#include "core/pool_lease.h"
#include "core/server_outage.h"
#include "redis/commands.h"
#include "redis/connection.h"
#include "redis/error.h"
#include "redis/url.h"

namespace puff::redis {

struct PoolOptions {
  std::string name = "default";
  std::string url;  // redis://, rediss:// (TLS) or unix:// (see url.h)
  int size = 4;     // shared connections
  double connect_timeout_s = 5.0;
  double command_timeout_s = 5.0;  // 0 = none
  double reconnect_backoff_max_s = 10.0;
};

struct PoolStats {
  std::string name;
  std::string where;          // "127.0.0.1:6379" or the socket path
  int size = 0;               // shared connections configured
  int connected = 0;          // shared connections up
  std::size_t in_flight = 0;  // commands without a reply yet (shared connections and waiting)
  int dedicated_in_use = 0;
  int dedicated_idle = 0;
  std::uint64_t commands_total = 0;  // commands sent (shared and dedicated connections)
  std::uint64_t writes_total = 0;    // socket writes: far below commands_total when pipelining
  std::uint64_t connects_total = 0;  // successful connects (shared and dedicated)
  std::uint64_t connect_failures_total = 0;
  std::uint64_t connections_lost_total = 0;  // shared connections that broke or timed out
  std::string last_error;                    // "" once a connect succeeds again
};

class Pool;

// Exclusive use of one connection (MULTI/EXEC, WATCH, blocking commands). Returned to the pool
// when destroyed or released; kept for the next borrower only when nothing is in flight and no
// transaction or session change was left behind, else closed.
inline constexpr char kDedicatedName[] = "redis::Dedicated";

class Dedicated : public core::PoolLease<Pool, Connection, UsageError, kDedicatedName> {
 public:
  using PoolLease::PoolLease;
  // connection().execute(): pass timeout_s = 0 (or more than the command's own) for BLPOP & co.
  void execute(const std::vector<std::string_view>& args, Connection::ReplyCallback done,
               double timeout_s = Connection::kDefaultTimeout) const {
    connection().execute(args, std::move(done), timeout_s);
  }
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  using ReplyCallback = Connection::ReplyCallback;
  using BatchCallback = Connection::BatchCallback;
  using Command = Connection::Command;
  using DedicatedCallback = std::function<void(std::optional<Error>, Dedicated)>;
  // The least time between a failed connect and one a command starts: short, as a Redis
  // connect costs the server little, yet no storm of connects while it refuses under load.
  static constexpr auto kOnDemandSpacing = std::chrono::milliseconds(10);

  // UsageError: a URL parse_url rejects (message without the password), size < 1.
  static std::shared_ptr<Pool> create(boost::asio::io_context& io, PoolOptions options);
  ~Pool();  // closes every connection
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Opens the shared connections in the background. Idempotent; execute() calls it.
  void start();
  // Queues one command on a shared connection (see Connection::execute for args and timeout).
  void execute(const std::vector<std::string_view>& args, ReplyCallback done,
               double timeout_s = Connection::kDefaultTimeout);
  // Queues `commands` back to back on one shared connection (see Connection::execute_batch):
  // a pipeline in one round trip, whose commands run in order. Only plain commands, except
  // that a batch may begin with MULTI and end with EXEC: a transaction without a dedicated
  // connection (WATCH still needs one, it waits for replies in between).
  void execute_batch(const std::vector<Command>& commands, BatchCallback done,
                     double timeout_s = Connection::kDefaultTimeout);
  // A connection of its own: an idle dedicated one, or a new one (its connect error otherwise).
  void dedicated(DedicatedCallback done);
  // Closes every connection; commands in flight fail with Error::closed, later ones too.
  // Dedicated connections are closed when given back.
  void close();
  PoolStats stats() const;
  const PoolOptions& options() const { return options_; }
  const std::string& where() const { return where_; }

 private:
  friend core::PoolLease<Pool, Connection, UsageError, kDedicatedName>;
  struct Slot;
  // A command (done) or batch (batch_done) held for a first connect attempt.
  struct Waiting {
    std::vector<std::vector<std::string>> commands;
    ReplyCallback done;
    BatchCallback batch_done;
    double timeout_s;
  };

  Pool(boost::asio::io_context& io, PoolOptions options, Url url);

  ConnectionOptions connection_options(bool dedicated) const;
  // Opens the slot's connection unless it is up or opening (`reserved`: the caller marked it
  // opening already).
  void open_slot(std::size_t index, bool reserved = false);
  void on_connect_result(std::size_t index, const Connection* connection,
                         std::optional<Error> error);
  // The parts of on_connect_result under mutex_: slots to open now, or waiters to fail.
  void on_connected(Slot& slot, std::vector<std::size_t>& to_open);
  void on_connect_failed(Slot& slot, const Error& error);
  void on_connection_lost(std::size_t index, const Connection* connection, const Error& error);
  // Under mutex_: marks slots opening and returns them; with no connection up, one at most.
  std::vector<std::size_t> reserve_down_slots(bool all);
  // Under mutex_: reserves a slot for a connect a command starts, when none is under way and
  // kOnDemandSpacing has passed since the last failure.
  std::optional<std::size_t> reserve_on_demand();
  void on_retry_timer();
  void open_slots(const std::vector<std::size_t>& reserved);
  void give_back(std::shared_ptr<Connection> connection, bool discard);
  bool any_up() const;                // under mutex_
  bool attempt_running() const;       // under mutex_
  Error unavailable_error() const;    // under mutex_
  void post_error(ReplyCallback done, Error error);
  void post_batch_error(BatchCallback done, Error error);
  // Calls `attempt(connection)` on up to `size` connections that are up, in round robin, until
  // one returns true (took the work); false when none did.
  bool on_some_connection(const std::function<bool(Connection&)>& attempt);
  // No connection took the work: sends it to one that came up meanwhile, or keeps it for a
  // first attempt under way, or answers it (on an IO thread) with the error.
  void wait_or_fail(Waiting& waiting, int round = 0);
  // Queues the work on `connection`; false (work untouched) when that one is not open.
  static bool take(Connection& connection, Waiting& waiting);
  static void fail(Waiting& waiting, const Error& error);
  Error unavailable_error_now();  // locks mutex_; counts a failed command
  Error refused_error(CommandKind kind, std::string_view name) const;

  boost::asio::io_context& io_;
  const PoolOptions options_;
  const Url url_;
  const std::string where_;
  const std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Waiting> waiting_;  // for a first connect attempt
  std::vector<std::shared_ptr<Connection>> dedicated_idle_;
  int dedicated_in_use_ = 0;
  std::size_t next_slot_ = 0;
  bool started_ = false;
  bool closed_ = false;
  // Rounds of failed connects since the last success (the background backoff's exponent).
  int failed_rounds_ = 0;
  core::Clock::time_point last_failure_at_{};
  bool last_connect_timed_out_ = false;
  boost::asio::steady_timer retry_timer_;  // the background retry; touched only under mutex_
  core::ServerOutage outage_;
  std::uint64_t connects_total_ = 0;
  std::uint64_t connect_failures_total_ = 0;
  std::uint64_t connections_lost_total_ = 0;
  std::string last_error_;
};

}  // namespace puff::redis
