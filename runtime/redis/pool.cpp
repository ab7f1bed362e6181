#include "redis/pool.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <exception>

#include "core/durations.h"
#include "core/log.h"
#include "redis/commands.h"
#include "redis/detail/callback.h"

namespace puff::redis {
namespace {

using core::backoff_delay;
using core::Clock;

std::string refusal(CommandKind kind, std::string_view name) {
  std::string what(name.substr(0, 32));
  switch (kind) {
    case CommandKind::transaction:
      return what + " cannot run on a shared, pipelined connection (other callers' commands "
                    "would land in the transaction); use a dedicated connection";
    case CommandKind::blocking:
      return what + " would block a shared, pipelined connection for everyone; use a dedicated "
                    "connection";
    case CommandKind::session:
      return what + " changes the session of a shared, pipelined connection for everyone; use "
                    "a dedicated connection (or the URL's db for SELECT)";
    case CommandKind::plain: break;
  }
  return what;
}

}  // namespace

struct Pool::Slot {
  std::shared_ptr<Connection> connection;  // up or connecting
  bool up = false;
  bool connecting = false;
};

// ---- Pool ----------------------------------------------------------------------------------

std::shared_ptr<Pool> Pool::create(boost::asio::io_context& io, PoolOptions options) {
  if (options.size < 1) throw UsageError("redis::Pool '" + options.name + "': size must be at least 1");
  std::string error;
  auto url = parse_url(options.url, &error);
  if (!url) throw UsageError("Redis pool '" + options.name + "': invalid URL: " + error);
  return std::shared_ptr<Pool>(new Pool(io, std::move(options), std::move(*url)));
}

Pool::Pool(boost::asio::io_context& io, PoolOptions options, Url url)
    : io_(io),
      options_(std::move(options)),
      url_(std::move(url)),
      where_(url_.where()),
      retry_timer_(io),
      outage_("Redis pool '" + options_.name + "' at " + where_, "commands") {
  for (int i = 0; i < options_.size; ++i) slots_.push_back(std::make_unique<Slot>());
}

Pool::~Pool() { close(); }

ConnectionOptions Pool::connection_options(bool dedicated) const {
  ConnectionOptions o;
  o.url = url_;
  o.connect_timeout_s = options_.connect_timeout_s;
  o.command_timeout_s = options_.command_timeout_s;
  o.label = "Redis pool '" + options_.name + "'" + (dedicated ? " (dedicated connection)" : "") +
            " at " + where_;
  o.counters = counters_;
  return o;
}

void Pool::start() {
  {
    std::lock_guard lock(mutex_);
    if (started_ || closed_) return;
    started_ = true;
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) open_slot(i);
}

void Pool::open_slot(std::size_t index, bool reserved) {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard lock(mutex_);
    Slot& slot = *slots_[index];
    if (closed_ || (!reserved && (slot.connecting || slot.up))) return;
    slot.connecting = true;
    connection = Connection::create(io_, connection_options(false));
    slot.connection = connection;
  }
  // Weak references: the pool owns its connections, not the other way round.
  std::weak_ptr<Pool> weak = shared_from_this();
  const Connection* identity = connection.get();
  connection->connect(
      [weak, index, identity](std::optional<Error> error) {
        if (auto pool = weak.lock()) pool->on_connect_result(index, identity, std::move(error));
      },
      [weak, index, identity](const Error& error) {
        if (auto pool = weak.lock()) pool->on_connection_lost(index, identity, error);
      });
}

void Pool::on_connect_result(std::size_t index, const Connection* connection,
                             std::optional<Error> error) {
  std::shared_ptr<Connection> up;
  std::vector<std::size_t> to_open;
  std::vector<Waiting> ready;
  std::vector<Waiting> failed;
  Error failure;
  {
    std::lock_guard lock(mutex_);
    Slot& slot = *slots_[index];
    if (slot.connection.get() != connection) return;  // closed meanwhile
    slot.connecting = false;
    if (!error) {
      on_connected(slot, to_open);
      up = slot.connection;
      ready.swap(waiting_);
    } else {
      on_connect_failed(slot, *error);
      if (!any_up() && !attempt_running()) {
        failed.swap(waiting_);
        failure = unavailable_error();
        for (std::size_t i = 0; i < failed.size(); ++i) outage_.request_failed();
      }
    }
  }
  open_slots(to_open);
  for (auto& w : ready) {
    if (!take(*up, w)) wait_or_fail(w);  // it closed again at once
  }
  for (auto& w : failed) fail(w, failure);
}

void Pool::on_connected(Slot& slot, std::vector<std::size_t>& to_open) {
  slot.up = true;
  ++connects_total_;
  failed_rounds_ = 0;
  last_connect_timed_out_ = false;
  last_error_.clear();
  retry_timer_.cancel();
  outage_.connected();
  to_open = reserve_down_slots(true);  // the server is back: the others need not wait either
}

void Pool::on_connect_failed(Slot& slot, const Error& error) {
  ++connect_failures_total_;
  slot.connection.reset();
  last_error_ = error.message;
  last_failure_at_ = Clock::now();
  last_connect_timed_out_ = error.kind == Error::Kind::timeout;
  // Connects started together (every slot after a loss) fail together: one round of backoff.
  if (!attempt_running()) ++failed_rounds_;
  if (any_up()) {
    core::log_debug(error.message, " (the pool's other connections are up)");
  } else {
    outage_.connect_failed(error.message);
  }
  if (closed_) return;
  retry_timer_.expires_after(
      backoff_delay(std::max(failed_rounds_, 1), options_.reconnect_backoff_max_s));
  retry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto pool = weak.lock(); pool && !ec) pool->on_retry_timer();
  });
}

void Pool::on_connection_lost(std::size_t index, const Connection* connection, const Error& error) {
  {
    std::lock_guard lock(mutex_);
    Slot& slot = *slots_[index];
    if (slot.connection.get() != connection) return;
    slot.up = false;
    slot.connection.reset();
    ++connections_lost_total_;
    if (closed_) return;
    last_error_ = error.message;
    core::log_debug(error.message, " (reconnecting)");
    // Reserved under this lock, so that no command sees the pool without a connection or an
    // attempt (and fails) before the reconnect below starts.
    slot.connecting = true;
  }
  open_slot(index, true);  // at once: a restarted server is often back already
}

std::vector<std::size_t> Pool::reserve_down_slots(bool all) {
  std::vector<std::size_t> reserved;
  if (!all && attempt_running()) return reserved;
  for (std::size_t i = 0; i < slots_.size() && !closed_; ++i) {
    Slot& slot = *slots_[i];
    if (slot.up || slot.connecting) continue;
    slot.connecting = true;
    reserved.push_back(i);
    if (!all) break;
  }
  return reserved;
}

std::optional<std::size_t> Pool::reserve_on_demand() {
  if (attempt_running() || Clock::now() - last_failure_at_ < kOnDemandSpacing) return std::nullopt;
  auto reserved = reserve_down_slots(false);
  if (reserved.empty()) return std::nullopt;
  return reserved.front();
}

void Pool::on_retry_timer() {
  std::vector<std::size_t> to_open;
  {
    std::lock_guard lock(mutex_);
    // With no connection up, one probe at a time; otherwise every slot still down.
    to_open = reserve_down_slots(any_up());
  }
  open_slots(to_open);
}

void Pool::open_slots(const std::vector<std::size_t>& reserved) {
  for (std::size_t index : reserved) open_slot(index, true);
}

bool Pool::any_up() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->up; });
}

bool Pool::attempt_running() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->connecting; });
}

Error Pool::unavailable_error() const {
  std::string why = last_error_.empty()
                        ? "Redis pool '" + options_.name + "' at " + where_ + ": not connected"
                        : last_error_;
  return Error{Error::Kind::unavailable, why + " (no connection is up; reconnecting in the background)"};
}

Error Pool::unavailable_error_now() {
  std::lock_guard lock(mutex_);
  outage_.request_failed();
  return unavailable_error();
}

void Pool::post_error(ReplyCallback done, Error error) {
  boost::asio::post(io_, [done = std::move(done), error = std::move(error)] {
    detail::run_callback([&] { done(error, Reply{}); });
  });
}

Error Pool::refused_error(CommandKind kind, std::string_view name) const {
  return Error{Error::Kind::refused,
               "Redis pool '" + options_.name + "' at " + where_ + ": " + refusal(kind, name)};
}

void Pool::post_batch_error(BatchCallback done, Error error) {
  boost::asio::post(io_, [done = std::move(done), error = std::move(error)] {
    detail::run_callback([&] { done(error, {}); });
  });
}

void Pool::execute(const std::vector<std::string_view>& args, ReplyCallback done,
                   double timeout_s) {
  if (args.empty()) throw UsageError("redis: a command needs at least its name");
  if (auto kind = classify_command(args); kind != CommandKind::plain) {
    return post_error(std::move(done), refused_error(kind, args[0]));
  }
  start();
  if (on_some_connection([&](Connection& c) { return c.try_execute(args, done, timeout_s); })) {
    return;
  }
  Waiting waiting{{std::vector<std::string>(args.begin(), args.end())}, std::move(done), {}, timeout_s};
  wait_or_fail(waiting);
}

void Pool::execute_batch(const std::vector<Command>& commands, BatchCallback done,
                         double timeout_s) {
  if (commands.empty()) throw UsageError("redis: a batch needs at least one command");
  auto is = [](const Command& args, std::string_view name) {
    return args.size() == 1 && args[0].size() == name.size() &&
           std::equal(name.begin(), name.end(), args[0].begin(),
                      [](char a, char b) { return a == (b >= 'a' && b <= 'z' ? b - 'a' + 'A' : b); });
  };
  const bool transaction = commands.size() >= 2 && is(commands.front(), "MULTI") &&
                           is(commands.back(), "EXEC");
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (commands[i].empty()) throw UsageError("redis: a command needs at least its name");
    const auto kind = classify_command(commands[i]);
    const bool wrapper = transaction && (i == 0 || i + 1 == commands.size());
    if (kind != CommandKind::plain && !wrapper) {
      return post_batch_error(std::move(done), refused_error(kind, commands[i][0]));
    }
  }
  start();
  if (on_some_connection([&](Connection& c) { return c.try_execute_batch(commands, done, timeout_s); })) {
    return;
  }
  Waiting waiting{{}, {}, std::move(done), timeout_s};
  for (const auto& args : commands) waiting.commands.emplace_back(args.begin(), args.end());
  wait_or_fail(waiting);
}

bool Pool::on_some_connection(const std::function<bool(Connection&)>& attempt) {
  for (std::size_t tries = 0; tries < slots_.size(); ++tries) {
    std::shared_ptr<Connection> connection;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
      for (std::size_t i = 0; i < slots_.size() && !connection; ++i) {
        std::size_t index = (next_slot_ + i) % slots_.size();
        if (slots_[index]->up) {
          connection = slots_[index]->connection;
          next_slot_ = index + 1;
        }
      }
    }
    if (!connection) return false;
    if (attempt(*connection)) {
      // While no write has taken this connection's queue yet, the next command joins it: one
      // write for all of them. Once it leaves, the next command goes to the next connection.
      if (connection->has_unsent()) {
        std::lock_guard lock(mutex_);
        next_slot_ = (next_slot_ + slots_.size() - 1) % slots_.size();
      }
      return true;
    }  // else it has just closed: try the next
  }
  return false;
}

void Pool::wait_or_fail(Waiting& waiting, int round) {
  std::shared_ptr<Connection> up;
  std::optional<Error> error;
  std::optional<std::size_t> attempt;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      error = Error{Error::Kind::closed, "Redis pool '" + options_.name + "' is closed"};
    } else {
      for (const auto& slot : slots_) {
        if (slot->up) up = slot->connection;
      }
      if (!up) {
        attempt = reserve_on_demand();
        if (attempt_running() && !last_connect_timed_out_) {
          waiting_.push_back(std::move(waiting));
        } else {
          outage_.request_failed();
          error = unavailable_error();
        }
      }
    }
  }
  if (attempt) open_slot(*attempt, true);  // after waiting_ has the command
  if (!up && !error) return;
  // One came up since the caller looked (or closed again: try the rest, a few rounds).
  if (!error && (take(*up, waiting) || on_some_connection([&](Connection& c) { return take(c, waiting); }))) {
    return;
  }
  if (!error && round < 3) return wait_or_fail(waiting, round + 1);
  if (!error) error = unavailable_error_now();
  auto failed = std::make_shared<Waiting>(std::move(waiting));
  boost::asio::post(io_, [failed, error = std::move(*error)] { fail(*failed, error); });
}

bool Pool::take(Connection& connection, Waiting& waiting) {
  std::vector<Command> commands;
  commands.reserve(waiting.commands.size());
  for (const auto& args : waiting.commands) commands.emplace_back(args.begin(), args.end());
  if (waiting.batch_done) {
    return connection.try_execute_batch(commands, waiting.batch_done, waiting.timeout_s);
  }
  return connection.try_execute(commands.front(), waiting.done, waiting.timeout_s);
}

void Pool::fail(Waiting& waiting, const Error& error) {
  detail::run_callback([&] {
    if (waiting.batch_done) {
      waiting.batch_done(error, {});
    } else {
      waiting.done(error, Reply{});
    }
  });
}

void Pool::dedicated(DedicatedCallback done) {
  std::shared_ptr<Connection> reuse;
  std::vector<std::shared_ptr<Connection>> stale;
  bool closed = false;
  {
    std::lock_guard lock(mutex_);
    closed = closed_;
    while (!closed && !reuse && !dedicated_idle_.empty()) {
      auto candidate = std::move(dedicated_idle_.back());
      dedicated_idle_.pop_back();
      (candidate->reusable() ? reuse : stale.emplace_back()) = std::move(candidate);
    }
    if (reuse) ++dedicated_in_use_;
  }
  for (auto& c : stale) c->close();
  auto self = shared_from_this();
  if (closed) {
    boost::asio::post(io_, [done = std::move(done), name = options_.name] {
      detail::run_callback(
          [&] { done(Error{Error::Kind::closed, "Redis pool '" + name + "' is closed"}, Dedicated()); });
    });
    return;
  }
  if (reuse) {
    boost::asio::post(io_, [done = std::move(done), lease = Dedicated(self, reuse)]() mutable {
      detail::run_callback([&] { done(std::nullopt, std::move(lease)); });
    });
    return;
  }
  auto connection = Connection::create(io_, connection_options(true));
  connection->connect([self, connection, done = std::move(done)](std::optional<Error> error) {
    {
      std::lock_guard lock(self->mutex_);
      if (error) {
        ++self->connect_failures_total_;
      } else {
        ++self->connects_total_;
        ++self->dedicated_in_use_;
      }
    }
    if (error) {
      detail::run_callback([&] { done(std::move(error), Dedicated()); });
      return;
    }
    detail::run_callback([&] { done(std::nullopt, Dedicated(self, connection)); });
  });
}

void Pool::give_back(std::shared_ptr<Connection> connection, bool discard) {
  {
    std::lock_guard lock(mutex_);
    --dedicated_in_use_;
    if (!discard && !closed_ && connection->reusable() &&
        dedicated_idle_.size() < slots_.size()) {
      dedicated_idle_.push_back(std::move(connection));
      return;
    }
  }
  connection->close();
}

void Pool::close() {
  std::vector<std::shared_ptr<Connection>> connections;
  std::vector<Waiting> waiting;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    retry_timer_.cancel();
    for (auto& slot : slots_) {
      slot->up = slot->connecting = false;
      if (slot->connection) connections.push_back(std::move(slot->connection));
      slot->connection.reset();
    }
    for (auto& c : dedicated_idle_) connections.push_back(std::move(c));
    dedicated_idle_.clear();
    waiting.swap(waiting_);
  }
  for (auto& c : connections) c->close();
  const Error closed{Error::Kind::closed, "Redis pool '" + options_.name + "' is closed"};
  for (auto& w : waiting) {
    if (w.batch_done) {
      post_batch_error(std::move(w.batch_done), closed);
    } else {
      post_error(std::move(w.done), closed);
    }
  }
}

PoolStats Pool::stats() const {
  PoolStats s;
  s.name = options_.name;
  s.where = where_;
  s.size = static_cast<int>(slots_.size());
  s.commands_total = counters_->commands.load();
  s.writes_total = counters_->writes.load();
  std::lock_guard lock(mutex_);
  for (const auto& slot : slots_) {
    if (!slot->up) continue;
    ++s.connected;
    s.in_flight += slot->connection->in_flight();
  }
  s.in_flight += waiting_.size();
  s.dedicated_in_use = dedicated_in_use_;
  s.dedicated_idle = static_cast<int>(dedicated_idle_.size());
  s.connects_total = connects_total_;
  s.connect_failures_total = connect_failures_total_;
  s.connections_lost_total = connections_lost_total_;
  s.last_error = last_error_;
  return s;
}

}  // namespace puff::redis
