#include "pg/pool.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <cstdio>
#include <exception>

#include "core/log.h"

namespace puff::pg {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", s);
  return text;
}

Error closed_error(const std::string& name) {
  return Error{Error::Kind::closed, "",
               "the PostgreSQL pool '" + name + "' is closed (the server is shutting down)", "",
               ""};
}

// The first reconnect waits 50 ms, then twice as long each time, up to `max_s`.
Clock::duration backoff_delay(int failures, double max_s) {
  double delay = 0.05 * std::pow(2.0, std::min(failures - 1, 20));
  return seconds(std::min(delay, std::max(max_s, 0.0)));
}

}  // namespace

struct Pool::Waiter {
  Waiter(boost::asio::io_context& io, AcquireCallback done) : done(std::move(done)), timer(io) {}
  AcquireCallback done;
  boost::asio::steady_timer timer;  // touched only under the pool mutex
  bool finished = false;            // served, timed out or failed (under the pool mutex)
};

// ---- Lease ---------------------------------------------------------------------------------

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    connection_ = std::move(other.connection_);
  }
  return *this;
}

Connection& Lease::connection() const {
  if (!connection_) throw UsageError("pg::Lease used after release (it holds no connection)");
  return *connection_;
}

void Lease::release() { return_connection(false); }

void Lease::discard() { return_connection(true); }

void Lease::return_connection(bool discard) {
  if (!connection_) return;
  auto pool = std::move(pool_);
  auto connection = std::move(connection_);
  try {
    pool->give_back(std::move(connection), discard);
  } catch (const std::exception& e) {
    core::log_error("pg: ", discard ? "discarding" : "returning", " a connection of pool '",
                    pool->options().name, "' failed: ", e.what());
  }
}

// ---- Pool ----------------------------------------------------------------------------------

std::shared_ptr<Pool> Pool::create(boost::asio::io_context& io, PoolOptions options) {
  if (options.max_size < 1) throw UsageError("pg::Pool: max_size must be at least 1");
  options.min_size = std::clamp(options.min_size, 0, options.max_size);
  return std::shared_ptr<Pool>(new Pool(io, std::move(options)));
}

Pool::Pool(boost::asio::io_context& io, PoolOptions options)
    : io_(io), options_(std::move(options)), backoff_timer_(io) {}

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
    backoff_timer_.cancel();
  }
  for (auto& i : idle) i.connection->close();
  for (auto& w : waiters) post_callback(std::move(w->done), closed_error(options_.name), Lease());
}

PoolStats Pool::stats() const {
  std::lock_guard lock(mutex_);
  PoolStats s;
  s.name = options_.name;
  s.min = options_.min_size;
  s.max = options_.max_size;
  s.size = size_;
  s.idle = static_cast<int>(idle_.size());
  s.in_use = size_ - s.idle - opening_;
  s.waiting = static_cast<int>(waiters_.size());
  s.acquired_total = acquired_total_;
  s.created_total = created_total_;
  s.connect_failures_total = connect_failures_total_;
  s.timeouts_total = timeouts_total_;
  return s;
}

void Pool::give_back(std::shared_ptr<Connection> connection, bool discard) {
  connection->drain_notices();  // the next user must not see this user's notices
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
    if (options_.health_check_after_s >= 0 &&
        now - idle.since > seconds(options_.health_check_after_s)) {
      actions.push_back([self, waiter, c = idle.connection] { self->check_then_deliver(waiter, c); });
    } else {
      actions.push_back([self, waiter, c = idle.connection] { self->deliver(waiter, c); });
    }
  }

  // Open connections for waiters no opening connection will serve, and up to min_size.
  int needed = std::max(static_cast<int>(waiters_.size()) - opening_, options_.min_size - size_);
  while (needed > 0 && size_ < options_.max_size) {
    // While the server refuses us: one attempt at a time, spaced by the backoff.
    if (consecutive_failures_ > 0 && opening_ > 0) break;
    if (now < next_connect_at_) {
      if (!backoff_timer_armed_) {
        backoff_timer_armed_ = true;
        backoff_timer_.expires_at(next_connect_at_);
        backoff_timer_.async_wait([self](const boost::system::error_code& ec) {
          {
            std::lock_guard lock(self->mutex_);
            self->backoff_timer_armed_ = false;
          }
          if (!ec) self->pump();
        });
      }
      break;
    }
    ++size_;
    ++opening_;
    --needed;
    actions.push_back([self] { self->open_connection(); });
  }
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
      ++connect_failures_total_;
      ++consecutive_failures_;
      last_connect_error_ = error->message;
      next_connect_at_ =
          Clock::now() + backoff_delay(consecutive_failures_, options_.reconnect_backoff_max_s);
    } else {
      consecutive_failures_ = 0;
      last_connect_error_.clear();
      ++created_total_;
    }
  }
  if (error) {
    core::log_debug("pg: pool '", options_.name, "' could not connect: ", error->message);
    pump();
    return;
  }
  make_idle(std::move(connection));
}

void Pool::check_then_deliver(std::shared_ptr<Waiter> waiter,
                              std::shared_ptr<Connection> connection) {
  auto self = shared_from_this();
  connection->execute("", [self, waiter, connection](QueryOutcome outcome) {
    if (!outcome.error && connection->is_open()) {
      self->deliver(waiter, connection);
      return;
    }
    self->drop(connection);
    {
      std::lock_guard lock(self->mutex_);
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
      ++acquired_total_;
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
    ++timeouts_total_;
    message = timeout_message();
  }
  post_callback(std::move(waiter->done), Error{Error::Kind::pool_timeout, "", message, "", ""},
                Lease());
}

std::string Pool::timeout_message() const {
  std::string head = "no connection from PostgreSQL pool '" + options_.name + "' within " +
                     format_seconds(options_.acquire_timeout_s) + ": ";
  if (consecutive_failures_ > 0) {
    return head + "the server is unreachable (last error: " + last_connect_error_ +
           "); check that it is up and the [[postgres]] url is right";
  }
  return head + "all " + std::to_string(options_.max_size) +
         " connections (max_size) were busy; raise max_size or acquire_timeout, or hold "
         "connections for shorter (e.g. no slow work inside transactions)";
}

void Pool::post_callback(AcquireCallback done, std::optional<Error> error, Lease lease) {
  // Lease is move-only and asio handlers must be movable: carry it in a shared holder.
  auto held = std::make_shared<Lease>(std::move(lease));
  boost::asio::post(io_, [done = std::move(done), error = std::move(error), held]() mutable {
    try {
      done(std::move(error), std::move(*held));
    } catch (const std::exception& e) {
      core::log_error("pg: an acquire callback threw (ignored): ", e.what());
    } catch (...) {
      core::log_error("pg: an acquire callback threw a non-standard exception (ignored)");
    }
  });
}

}  // namespace puff::pg
