#include "pg/pool.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <cmath>
#include <cstdio>
#include <exception>

#include "core/durations.h"
#include "core/log.h"

namespace puff::pg {
namespace {

using core::backoff_delay;
using core::Clock;
using core::format_seconds;
using core::seconds;

Error closed_error(const std::string& name) {
  return Error{Error::Kind::closed, "",
               "the PostgreSQL pool '" + name + "' is closed (the server is shutting down)", "",
               ""};
}

}  // namespace

struct Pool::Waiter {
  Waiter(boost::asio::io_context& io, AcquireCallback done) : done(std::move(done)), timer(io) {}
  AcquireCallback done;
  const Clock::time_point queued_at = Clock::now();
  boost::asio::steady_timer timer;  // touched only under the pool mutex
  bool finished = false;            // served, timed out or failed (under the pool mutex)
};

// ---- Pool ----------------------------------------------------------------------------------

std::shared_ptr<Pool> Pool::create(boost::asio::io_context& io, PoolOptions options) {
  if (options.max_size < 1) throw UsageError("pg::Pool: max_size must be at least 1");
  options.min_size = std::clamp(options.min_size, 0, options.max_size);
  return std::shared_ptr<Pool>(new Pool(io, std::move(options)));
}

Pool::Pool(boost::asio::io_context& io, PoolOptions options)
    : io_(io),
      options_(std::move(options)),
      retry_timer_(io),
      outage_("PostgreSQL pool '" + options_.name + "'", "acquires") {}

Pool::~Pool() = default;

void Pool::start() { pump(); }

void Pool::acquire(AcquireCallback done) {
  auto waiter = std::make_shared<Waiter>(io_, std::move(done));
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    if (!closed_) {
      queued = true;
      waiter->timer.expires_after(seconds(options_.acquire_timeout_s));
      waiter->timer.async_wait([self = shared_from_this(), waiter](const boost::system::error_code& ec) {
        if (!ec) self->on_waiter_timeout(waiter);
      });
      waiters_.push_back(waiter);
    }
  }
  if (!queued) {
    post_callback(std::move(waiter->done), closed_error(options_.name), Lease());
    return;
  }
  pump();
}

std::optional<Lease> Pool::try_acquire_now() {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || !waiters_.empty() || idle_.empty()) return std::nullopt;
    const Idle& idle = idle_.back();  // most recently used, as plan() lends
    const bool idle_too_long = options_.health_check_after_s >= 0 &&
                               Clock::now() - idle.since > seconds(options_.health_check_after_s);
    if (idle_too_long || idle.connection->has_unrequested_input()) return std::nullopt;
    connection = idle.connection;
    idle_.pop_back();
    ++totals_.acquired_total;  // waited 0 s: the wait totals stay as they are
  }
  return Lease(shared_from_this(), std::move(connection));
}

void Pool::close() {
  std::deque<Idle> idle;
  std::deque<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    idle.swap(idle_);
    waiters.swap(waiters_);
    size_ -= static_cast<int>(idle.size());
    for (auto& w : waiters) {
      w->finished = true;
      w->timer.cancel();
    }
    retry_timer_.cancel();
  }
  for (auto& i : idle) i.connection->close();
  for (auto& w : waiters) post_callback(std::move(w->done), closed_error(options_.name), Lease());
}

PoolStats Pool::stats() const {
  std::lock_guard lock(mutex_);
  PoolStats s = totals_;
  s.name = options_.name;
  s.min = options_.min_size;
  s.max = options_.max_size;
  s.size = size_;
  s.idle = static_cast<int>(idle_.size());
  s.opening = opening_;
  s.in_use = size_ - s.idle - opening_;
  s.waiting = static_cast<int>(waiters_.size());
  return s;
}

void Pool::give_back(std::shared_ptr<Connection> connection, bool discard) {
  // The next user must not see this user's notices or notifications.
  connection->drain_notices();
  connection->drain_notifications();
  // A statement still running (its caller gave up) or a broken session: close it.
  if (discard || !connection->is_open() || connection->is_busy()) {
    drop(connection);
    pump();
    return;
  }
  switch (connection->transaction_status()) {
    case TransactionStatus::idle:
      make_idle(std::move(connection));
      return;
    case TransactionStatus::in_transaction:
    case TransactionStatus::in_error: {
      auto self = shared_from_this();
      connection->execute("ROLLBACK", [self, connection](QueryOutcome outcome) {
        if (!outcome.error && connection->transaction_status() == TransactionStatus::idle) {
          self->make_idle(connection);
        } else {
          self->drop(connection);
          self->pump();
        }
      });
      return;
    }
    default:
      drop(connection);
      pump();
      return;
  }
}

void Pool::pump() {
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    plan(actions);
  }
  for (auto& action : actions) action();
}

void Pool::plan(Actions& actions) {
  if (closed_) return;
  auto self = shared_from_this();
  const auto now = Clock::now();

  while (!waiters_.empty() && !idle_.empty()) {
    auto waiter = waiters_.front();
    waiters_.pop_front();
    Idle idle = std::move(idle_.back());  // most recently used: warm, least likely stale
    idle_.pop_back();
    const bool idle_too_long = options_.health_check_after_s >= 0 &&
                               now - idle.since > seconds(options_.health_check_after_s);
    actions.push_back([self, waiter, c = idle.connection, idle_too_long] {
      self->lend_idle(waiter, c, idle_too_long);
    });
  }

  // A pool that has never connected more likely has wrong settings (password, host, database)
  // than a server that is down: its waiters get the connect error now, as psycopg2.connect()
  // would, not after acquire_timeout. Once it has connected, failures look like a restart and
  // waiters wait for the server to come back.
  if (totals_.created_total == 0 && consecutive_failures_ > 0 && opening_ == 0 &&
      now < next_connect_at() && !waiters_.empty()) {
    fail_waiters_with_connect_error(actions);
  }

  // Open connections for waiters no opening connection will serve, and up to min_size.
  int needed = std::max(static_cast<int>(waiters_.size()) - opening_, options_.min_size - size_);
  while (needed > 0 && size_ < options_.max_size) {
    // While the server refuses us: one attempt at a time, spaced.
    if (consecutive_failures_ > 0 && opening_ > 0) break;
    if (const auto next = next_connect_at(); now < next) {
      arm_retry_timer(next);
      break;
    }
    ++size_;
    ++opening_;
    --needed;
    actions.push_back([self] { self->open_connection(); });
  }
}

Clock::time_point Pool::next_connect_at() const {
  if (consecutive_failures_ == 0) return Clock::time_point::min();
  const auto backoff = backoff_delay(consecutive_failures_, options_.reconnect_backoff_max_s);
  // The backoff paces attempts nobody waits for; waiters get the server as soon as it is back.
  const Clock::duration spacing =
      waiters_.empty() ? backoff : std::min<Clock::duration>(backoff, kOnDemandSpacing);
  return last_failure_at_ + spacing;
}

void Pool::arm_retry_timer(Clock::time_point at) {
  if (at >= retry_at_) return;  // it pumps sooner already
  retry_at_ = at;
  retry_timer_.expires_at(at);  // a later wait ends with operation_aborted
  retry_timer_.async_wait([self = shared_from_this(), at](const boost::system::error_code& ec) {
    if (ec) return;
    {
      std::lock_guard lock(self->mutex_);
      if (self->retry_at_ == at) self->retry_at_ = Clock::time_point::max();
    }
    self->pump();
  });
}

void Pool::fail_waiters_with_connect_error(Actions& actions) {
  Error error{Error::Kind::connect_failed, "",
              totals_.last_connect_error + " (PostgreSQL pool '" + options_.name + "')", "", ""};
  auto self = shared_from_this();
  for (auto& waiter : waiters_) {
    waiter->finished = true;
    waiter->timer.cancel();
    outage_.request_failed();
    actions.push_back([self, done = std::move(waiter->done), error]() mutable {
      self->post_callback(std::move(done), error, Lease());
    });
  }
  waiters_.clear();
}

void Pool::open_connection() {
  ConnectOptions connect;
  connect.conninfo = options_.conninfo;
  connect.connect_timeout_s = options_.connect_timeout_s;
  connect.statement_timeout_s = options_.statement_timeout_s;
  connect.application_name = options_.application_name;
  auto connection = Connection::create(io_);
  auto self = shared_from_this();
  connection->connect(std::move(connect), [self, connection](std::optional<Error> error) {
    self->on_connect_result(connection, std::move(error));
  });
}

void Pool::on_connect_result(std::shared_ptr<Connection> connection, std::optional<Error> error) {
  {
    std::lock_guard lock(mutex_);
    --opening_;
    if (error) {
      --size_;
      ++totals_.connect_failures_total;
      ++consecutive_failures_;
      totals_.last_connect_error = error->message;
      last_failure_at_ = Clock::now();
      // Refused while other connections are open (too many clients): not an outage.
      if (size_ == opening_) {
        outage_.connect_failed(error->message);
      } else {
        core::log_debug("pg: pool '", options_.name, "' could not connect: ", error->message);
      }
    } else {
      consecutive_failures_ = 0;
      totals_.last_connect_error.clear();
      ++totals_.created_total;
      outage_.connected();
    }
  }
  if (error) {
    pump();
    return;
  }
  make_idle(std::move(connection));
}

void Pool::lend_idle(std::shared_ptr<Waiter> waiter, std::shared_ptr<Connection> connection,
                     bool idle_too_long) {
  // The unasked-input test is one poll() and catches a restarted server at once, where the
  // idle-time check alone would lend every connection that died in the last
  // health_check_after seconds.
  if (idle_too_long || connection->has_unrequested_input()) {
    check_then_deliver(std::move(waiter), std::move(connection));
  } else {
    deliver(std::move(waiter), std::move(connection));
  }
}

void Pool::check_then_deliver(std::shared_ptr<Waiter> waiter,
                              std::shared_ptr<Connection> connection) {
  auto self = shared_from_this();
  // A server that went silent (network cut, host gone, process stopped) never answers and
  // sends no FIN: give up after connect_timeout, or the check would hold a slot for as long as
  // TCP keeps the dead connection (hours).
  struct Deadline {
    explicit Deadline(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    std::atomic<bool> settled{false};  // the first of answer and timeout wins
  };
  auto deadline = std::make_shared<Deadline>(io_);
  if (options_.connect_timeout_s > 0) {  // <= 0: no limit, as for connects
    deadline->timer.expires_after(seconds(options_.connect_timeout_s));
    deadline->timer.async_wait([deadline, connection](const boost::system::error_code& ec) {
      if (!ec && !deadline->settled.exchange(true)) connection->close();
    });
  }
  connection->execute("", [self, waiter, connection, deadline](QueryOutcome outcome) {
    const bool timed_out = deadline->settled.exchange(true);  // then a close() is on its way
    deadline->timer.cancel();
    if (!timed_out && !outcome.error && connection->is_open()) {
      self->deliver(waiter, connection);
      return;
    }
    core::log_debug("pg: pool '", self->options_.name, "' dropped a connection that failed its ",
                    "health check: ", outcome.error ? outcome.error->message : "no answer");
    self->drop(connection);
    {
      std::lock_guard lock(self->mutex_);
      ++self->totals_.health_check_failures_total;
      if (!waiter->finished && !self->closed_) self->waiters_.push_front(waiter);
    }
    self->pump();
  });
}

void Pool::deliver(std::shared_ptr<Waiter> waiter, std::shared_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    if (!waiter->finished) {
      waiter->finished = true;
      waiter->timer.cancel();
      ++totals_.acquired_total;
      const double waited =
          std::chrono::duration<double>(Clock::now() - waiter->queued_at).count();
      totals_.acquire_wait_total_s += waited;
      totals_.acquire_wait_max_s = std::max(totals_.acquire_wait_max_s, waited);
    } else {
      waiter = nullptr;  // timed out meanwhile: the connection goes back
    }
  }
  if (!waiter) {
    make_idle(std::move(connection));
    return;
  }
  post_callback(std::move(waiter->done), std::nullopt, Lease(shared_from_this(), connection));
}

void Pool::make_idle(std::shared_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    if (!closed_) {
      idle_.push_back(Idle{std::move(connection), Clock::now()});
    } else {
      --size_;
    }
  }
  if (connection) {
    connection->close();
    return;
  }
  pump();
}

void Pool::drop(const std::shared_ptr<Connection>& connection) {
  {
    std::lock_guard lock(mutex_);
    --size_;
    ++totals_.dropped_total;
  }
  connection->close();
}

void Pool::on_waiter_timeout(const std::shared_ptr<Waiter>& waiter) {
  std::string message;
  {
    std::lock_guard lock(mutex_);
    if (waiter->finished) return;
    waiter->finished = true;
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
    ++totals_.timeouts_total;
    outage_.request_failed();
    message = timeout_message();
  }
  post_callback(std::move(waiter->done), Error{Error::Kind::pool_timeout, "", message, "", ""},
                Lease());
}

std::string Pool::timeout_message() const {
  std::string head = "no connection from PostgreSQL pool '" + options_.name + "' within " +
                     format_seconds(options_.acquire_timeout_s) + ": ";
  if (consecutive_failures_ > 0) {
    return head + "cannot connect to the server (last error: " + totals_.last_connect_error +
           "); check that it is up and the [[postgres]] url is right";
  }
  return head + "all " + std::to_string(options_.max_size) +
         " connections (max_size) were busy; raise max_size or acquire_timeout, or hold "
         "connections for shorter (e.g. no slow work inside transactions)";
}

void Pool::post_callback(AcquireCallback done, std::optional<Error> error, Lease lease) {
  auto call = [](AcquireCallback& done, std::optional<Error>& error, Lease& lease) {
    try {
      done(std::move(error), std::move(lease));
    } catch (const std::exception& e) {
      core::log_error("pg: an acquire callback threw (ignored): ", e.what());
    } catch (...) {
      core::log_error("pg: an acquire callback threw a non-standard exception (ignored)");
    }
  };
  if (options_.inline_callbacks) return call(done, error, lease);
  // Lease is move-only and asio handlers must be movable: carry it in a shared holder.
  auto held = std::make_shared<Lease>(std::move(lease));
  boost::asio::post(io_, [call, done = std::move(done), error = std::move(error), held]() mutable {
    call(done, error, *held);
  });
}

}  // namespace puff::pg
