// LISTEN/NOTIFY on pg::Connection: notifications gathered from libpq, and reading what the
// server sends unasked while no operation runs.
#include <boost/asio/post.hpp>

#include "pg/connection.h"
#include "pg/detail/connection_op.h"

namespace puff::pg {
namespace {
constexpr std::size_t kMaxNotifications = 1000;
}  // namespace

void Connection::collect_notifications() {
  if (!conn_) return;
  // PQnotifies parses what PQconsumeInput buffered, so this also finds NOTIFYs that arrived
  // after the last result.
  std::vector<Notification> arrived;
  while (PGnotify* n = PQnotifies(conn_)) {
    arrived.push_back(Notification{n->be_pid, n->relname ? n->relname : "",
                                   n->extra ? n->extra : ""});
    PQfreemem(n);
  }
  if (arrived.empty()) return;
  std::lock_guard lock(mutex_);
  for (auto& n : arrived) notifications_.push_back(std::move(n));
  while (notifications_.size() > kMaxNotifications) notifications_.pop_front();
}

std::vector<Notification> Connection::drain_notifications() {
  std::lock_guard lock(mutex_);
  std::vector<Notification> out(std::make_move_iterator(notifications_.begin()),
                                std::make_move_iterator(notifications_.end()));
  notifications_.clear();
  return out;
}

bool Connection::has_unasked() const {
  std::lock_guard lock(mutex_);
  return !notices_.empty() || !notifications_.empty();
}

int Connection::socket_fd() const { return conn_ ? PQsocket(conn_) : -1; }

void Connection::consume_input_step() {
  if (!conn_ || !open_.load()) {
    finish(Error{Error::Kind::closed, "",
                 "the PostgreSQL connection is closed; use a new connection", "", ""});
    return;
  }
  if (!PQconsumeInput(conn_) || PQstatus(conn_) == CONNECTION_BAD) {
    return fail_lost("reading notifications");
  }
  finish(std::nullopt);  // gathers the notifications
}

void Connection::consume_input(ConnectCallback done) {
  if (busy_.exchange(true)) {
    throw UsageError("pg::Connection::consume_input called while another operation is in flight");
  }
  auto self = shared_from_this();
  boost::asio::post(strand_, [self, done = std::move(done)]() mutable {
    self->op_ = std::make_unique<Op>();
    self->op_->on_connect = std::move(done);  // the callback type that reports only an error
    self->consume_input_step();
  });
}

bool Connection::consume_input_inline() {
  if (busy_.exchange(true)) {
    throw UsageError(
        "pg::Connection::consume_input_inline called while another operation is in flight");
  }
  bool ok = true;
  op_ = std::make_unique<Op>();
  op_->on_connect = [&ok](std::optional<Error> error) { ok = !error; };
  consume_input_step();  // finishes before returning: PQconsumeInput never waits
  return ok;
}

}  // namespace puff::pg
