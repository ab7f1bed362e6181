#include "redis/connection.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>

#include "core/durations.h"
#include "core/turn_batch.h"
#include "redis/commands.h"
#include "redis/detail/callback.h"
#include "redis/detail/codec.h"
#include "redis/detail/tls.h"

namespace puff::redis {
namespace {

using core::Clock;
using core::format_seconds;
using core::seconds;
using GenericEndpoint = boost::asio::generic::stream_protocol::endpoint;
constexpr std::size_t kReadChunk = 64 * 1024;

std::string lower_first(std::string s) {
  if (s.size() > 1 && s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

std::string first_line(const std::string& s) {
  auto end = s.find_first_of("\r\n");
  return end == std::string::npos ? s : s.substr(0, end);
}

std::string socket_error(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::connection_refused) {
    return "connection refused; is redis-server running there?";
  }
  if (ec == boost::asio::error::eof) return "the server closed the connection";
  return lower_first(ec.message());
}

}  // namespace

const char* kind_name(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::connect_failed: return "connect_failed";
    case Error::Kind::connection_lost: return "connection_lost";
    case Error::Kind::timeout: return "timeout";
    case Error::Kind::unavailable: return "unavailable";
    case Error::Kind::refused: return "refused";
    case Error::Kind::protocol_error: return "protocol_error";
    case Error::Kind::closed: return "closed";
  }
  return "unknown";
}

std::shared_ptr<Connection> Connection::create(boost::asio::io_context& io,
                                               ConnectionOptions options) {
  return std::shared_ptr<Connection>(new Connection(io, std::move(options)));
}

Connection::Connection(boost::asio::io_context& io, ConnectionOptions options)
    : io_(io),
      strand_(boost::asio::make_strand(io)),
      options_(std::move(options)),
      where_(options_.url.where()),
      label_(options_.label.empty() ? "Redis at " + where_ : options_.label),
      counters_(options_.counters ? options_.counters : std::make_shared<Counters>()),
      socket_(io),
      resolver_(io),
      connect_timer_(io),
      command_timer_(io),
      read_buffer_(kReadChunk) {}

Connection::~Connection() {
  // No handler runs now (each holds a reference while it runs); commands still waiting for a
  // reply get their one answer here.
  close_socket();  // a TLS stream outlives us in its handlers: its socket must close now
  std::deque<Pending> failed;
  failed.swap(pending_);
  Error e = error_for(Error::Kind::closed, "the connection was destroyed with the command in flight");
  for (auto& p : failed) detail::run_callback([&] { p.done(e, Reply{}); });
}

Error Connection::error_for(Error::Kind kind, const std::string& what) const {
  return Error{kind, label_ + ": " + what};
}

// ---- connect -------------------------------------------------------------------------------

void Connection::connect(ConnectCallback done, CloseHandler handler) {
  State expected = State::idle;
  if (!state_.compare_exchange_strong(expected, State::connecting)) {
    throw UsageError("redis::Connection::connect called more than once");
  }
  auto self = shared_from_this();
  boost::asio::post(strand_, [self, done = std::move(done), handler = std::move(handler)]() mutable {
    self->on_connect_ = std::move(done);
    self->on_close_ = std::move(handler);
    self->start_connect();
  });
}

void Connection::start_connect() {
  const Url& url = options_.url;
  reader_ = std::make_unique<detail::ReplyReader>();
  auto self = shared_from_this();
  if (options_.connect_timeout_s > 0) {
    connect_timer_.expires_after(seconds(options_.connect_timeout_s));
    connect_timer_.async_wait(
        boost::asio::bind_executor(strand_, [self](const boost::system::error_code& ec) {
          if (ec || self->state_.load() != State::connecting) return;
          const std::string after = format_seconds(self->options_.connect_timeout_s);
          self->fail_connect(self->error_for(
              Error::Kind::timeout,
              self->tls_handshaking_
                  ? "the TLS handshake got no answer within " + after +
                        "; is the server's port a TLS port (tls-port)?"
                  : "connecting timed out after " + after +
                        "; check that the server is up and reachable, or raise "
                        "connect_timeout"));
        }));
  }
  auto endpoints = std::make_shared<std::vector<GenericEndpoint>>();
  if (url.unix_socket) {
    endpoints->emplace_back(boost::asio::local::stream_protocol::endpoint(url.path));
    try_endpoint(endpoints, 0);
    return;
  }
  resolver_.async_resolve(
      url.host, std::to_string(url.port),
      boost::asio::bind_executor(
          strand_, [self, endpoints](const boost::system::error_code& ec,
                                     const boost::asio::ip::tcp::resolver::results_type& found) {
            if (self->state_.load() != State::connecting) return;
            if (ec) {
              self->fail_connect(self->error_for(
                  Error::Kind::connect_failed,
                  "cannot resolve '" + self->options_.url.host + "': " + lower_first(ec.message())));
              return;
            }
            for (const auto& entry : found) endpoints->emplace_back(entry.endpoint());
            self->try_endpoint(endpoints, 0);
          }));
}

// Tries each resolved address in turn; the last one's error is the one reported.
void Connection::try_endpoint(std::shared_ptr<std::vector<GenericEndpoint>> endpoints,
                              std::size_t index) {
  boost::system::error_code ignored;
  socket_.close(ignored);
  auto self = shared_from_this();
  socket_.async_connect(
      (*endpoints)[index],
      boost::asio::bind_executor(strand_, [self, endpoints, index](const boost::system::error_code& ec) {
        if (self->state_.load() != State::connecting) return;
        if (!ec) return self->on_socket_connected();
        if (index + 1 < endpoints->size()) return self->try_endpoint(endpoints, index + 1);
        self->fail_connect(self->error_for(Error::Kind::connect_failed, socket_error(ec)));
      }));
}

void Connection::on_socket_connected() {
  if (!options_.url.unix_socket) {
    boost::system::error_code ignored;  // Nagle would hold back small pipelined writes
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  }
  if (options_.url.tls) return start_tls();
  on_transport_ready();
}

void Connection::start_tls() {
  std::string error;
  tls_ = detail::make_tls_layer(options_.url, std::move(socket_), &error);
  if (!tls_) return fail_connect(error_for(Error::Kind::connect_failed, error));
  tls_handshaking_ = true;
  auto self = shared_from_this();
  tls_->stream.async_handshake(
      boost::asio::ssl::stream_base::client,
      boost::asio::bind_executor(
          strand_, [self, tls = tls_](const boost::system::error_code& ec) {
            self->tls_handshaking_ = false;
            if (self->state_.load() != State::connecting) return;
            if (ec) {
              return self->fail_connect(self->error_for(
                  Error::Kind::connect_failed, detail::tls_error(ec, self->options_.url)));
            }
            self->on_transport_ready();
          }));
}

void Connection::close_socket() {
  boost::system::error_code ignored;
  if (tls_) {
    tls_->stream.lowest_layer().close(ignored);
  } else {
    socket_.close(ignored);
  }
}

void Connection::on_transport_ready() {
  {
    std::lock_guard lock(mutex_);
    accepting_ = true;
  }
  start_read();

  // AUTH, SELECT and PING go out in one write; the PING proves the session works (a server
  // with requirepass answers NOAUTH to it when the URL has no password).
  const Url& url = options_.url;
  const std::string db = std::to_string(url.db);
  std::vector<std::pair<std::string, std::vector<std::string_view>>> steps;
  if (!url.password.empty()) {
    if (url.username.empty()) {
      steps.push_back({"AUTH", {"AUTH", url.password}});
    } else {
      steps.push_back({"AUTH", {"AUTH", url.username, url.password}});
    }
  }
  if (url.db != 0) steps.push_back({"SELECT " + db, {"SELECT", db}});
  steps.push_back({"PING", {"PING"}});
  auto self = shared_from_this();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const bool last = i + 1 == steps.size();
    ReplyCallback done = [self, step = steps[i].first, last](std::optional<Error> error, Reply reply) {
      // An error here means the connection already failed (fail_connect reported it).
      if (!error) self->on_handshake_reply(reply, step, last);
    };
    enqueue(steps[i].second, done, 0);  // the connect timer bounds the handshake
  }
}

void Connection::on_handshake_reply(const Reply& reply, const std::string& step, bool last) {
  if (state_.load() != State::connecting) return;
  if (reply.is_error() && !handshake_error_) {
    std::string text = first_line(reply.str);
    if (!text.empty() && text.back() == '.') text.pop_back();  // we append "; ..." hints
    if (step == "AUTH") {
      text = "authentication failed: " + text + "; check the user and password in the URL";
    } else if (text.rfind("NOAUTH", 0) == 0) {
      text = "the server requires a password: " + text +
             "; put it in the URL (redis://:PASSWORD@host:port/db)";
    } else {
      text = step + " failed: " + text;
    }
    handshake_error_ = error_for(Error::Kind::connect_failed, text);
  }
  if (!last) return;
  if (handshake_error_) return fail_connect(*handshake_error_);
  connect_timer_.cancel();
  state_.store(State::open);
  auto done = std::move(on_connect_);
  on_connect_ = nullptr;
  if (done) detail::run_callback([&] { done(std::nullopt); });
}

void Connection::fail_connect(Error error) {
  on_close_ = nullptr;  // the close handler is for connections that were open
  shut_down(error);     // answers on_connect_
}

// ---- commands ------------------------------------------------------------------------------

void Connection::execute(const std::vector<std::string_view>& args, ReplyCallback done,
                         double timeout_s) {
  if (try_execute(args, done, timeout_s)) return;
  const State state = state_.load();
  Error error = error_for(Error::Kind::closed, state == State::closed
                                                   ? "the connection is closed"
                                                   : "not connected yet (wait for connect())");
  boost::asio::post(io_, [done = std::move(done), error = std::move(error)] {
    detail::run_callback([&] { done(error, Reply{}); });
  });
}

bool Connection::try_execute(const std::vector<std::string_view>& args, ReplyCallback& done,
                             double timeout_s) {
  if (args.empty()) throw UsageError("redis: a command needs at least its name");
  if (state_.load() != State::open) return false;
  return enqueue(args, done, timeout_s);
}

Clock::time_point Connection::deadline_for(double timeout_s, double* limit_s) const {
  *limit_s = timeout_s < 0 ? options_.command_timeout_s : timeout_s;
  return *limit_s > 0 ? Clock::now() + seconds(*limit_s) : Clock::time_point::max();
}

void Connection::append_locked(const std::vector<std::string_view>& args, ReplyCallback done,
                               Clock::time_point deadline, double limit_s) {
  detail::append_command(outgoing_, args);
  pending_.push_back(Pending{std::move(done), deadline, std::string(args[0].substr(0, 32)), limit_s});
  track_session(args);
  earliest_new_deadline_ = std::min(earliest_new_deadline_, deadline);
}

bool Connection::has_unsent() const {
  std::lock_guard lock(mutex_);
  return !outgoing_.empty();
}

bool Connection::schedule_write_locked() {
  const bool post_write = !write_scheduled_;
  write_scheduled_ = true;
  return post_write;
}

// The hub's greenlets queue commands back to back: the write starts when the hub's turn ends
// (core/turn_batch.h), so commands queued in one turn share it.
void Connection::hand_off_write() {
  core::TurnBatch::defer([self = shared_from_this()] {
    boost::asio::post(self->strand_, [self] { self->start_write(); });
  });
}

bool Connection::enqueue(const std::vector<std::string_view>& args, ReplyCallback& done,
                         double timeout_s) {
  double limit = 0;
  const auto deadline = deadline_for(timeout_s, &limit);
  bool post_write = false;
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) return false;
    append_locked(args, std::move(done), deadline, limit);
    post_write = schedule_write_locked();
  }
  counters_->commands.fetch_add(1, std::memory_order_relaxed);
  if (post_write) hand_off_write();
  return true;
}

void Connection::execute_batch(const std::vector<Command>& commands, BatchCallback done,
                               double timeout_s) {
  if (try_execute_batch(commands, done, timeout_s)) return;
  Error error = error_for(Error::Kind::closed, state_.load() == State::closed
                                                   ? "the connection is closed"
                                                   : "not connected yet (wait for connect())");
  boost::asio::post(io_, [done = std::move(done), error = std::move(error)] {
    detail::run_callback([&] { done(error, {}); });
  });
}

namespace {

// What the commands of one batch share: `done` runs when the last of them is answered.
struct BatchState {
  std::vector<Reply> replies;
  std::optional<Error> error;
  std::size_t remaining;
  Connection::BatchCallback done;
};

}  // namespace

bool Connection::try_execute_batch(const std::vector<Command>& commands, BatchCallback& done,
                                   double timeout_s) {
  if (commands.empty()) throw UsageError("redis: a batch needs at least one command");
  for (const auto& args : commands) {
    if (args.empty()) throw UsageError("redis: a command needs at least its name");
  }
  if (state_.load() != State::open) return false;
  double limit = 0;
  const auto deadline = deadline_for(timeout_s, &limit);
  bool post_write = false;
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) return false;
    auto state = std::make_shared<BatchState>(
        BatchState{std::vector<Reply>(commands.size()), std::nullopt, commands.size(), std::move(done)});
    for (std::size_t i = 0; i < commands.size(); ++i) {
      // Callbacks of one connection run one at a time (strand, or the destructor): no lock.
      append_locked(commands[i], [state, i](std::optional<Error> error, Reply reply) {
        if (error) {
          if (!state->error) state->error = std::move(error);
        } else {
          state->replies[i] = std::move(reply);
        }
        if (--state->remaining == 0) state->done(std::move(state->error), std::move(state->replies));
      }, deadline, limit);
    }
    post_write = schedule_write_locked();
  }
  counters_->commands.fetch_add(commands.size(), std::memory_order_relaxed);
  if (post_write) hand_off_write();
  return true;
}

// Under mutex_: what a dedicated connection's next borrower would inherit.
void Connection::track_session(const std::vector<std::string_view>& args) {
  switch (classify_command(args)) {
    case CommandKind::transaction: {
      std::string name(args[0]);
      for (char& c : name) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
      if (name == "MULTI") in_multi_ = true;
      if (name == "WATCH") watching_ = true;
      if (name == "UNWATCH" && !in_multi_) watching_ = false;
      if (name == "EXEC" || name == "DISCARD") in_multi_ = watching_ = false;
      return;
    }
    case CommandKind::session: session_changed_ = true; return;
    case CommandKind::plain:
    case CommandKind::blocking: return;
  }
}

// Everything queued since the last write goes out in one write; more queued meanwhile follows
// when it completes.
void Connection::start_write() {
  if (state_.load() == State::closed) return;
  Clock::time_point earliest;
  {
    std::lock_guard lock(mutex_);
    if (outgoing_.empty()) {
      write_scheduled_ = false;
      return;
    }
    write_buffer_.swap(outgoing_);
    earliest = earliest_new_deadline_;
    earliest_new_deadline_ = Clock::time_point::max();
  }
  if (earliest < timer_at_) arm_timer(earliest);
  counters_->writes.fetch_add(1, std::memory_order_relaxed);
  auto self = shared_from_this();
  auto written = boost::asio::bind_executor(
      strand_, [self, tls = tls_](const boost::system::error_code& ec, std::size_t) {
        if (self->state_.load() == State::closed) return;
        if (ec) return self->fail_lost("lost the connection while sending: ", ec);
        self->write_buffer_.clear();
        if (self->write_buffer_.capacity() > 4 * kReadChunk) self->write_buffer_.shrink_to_fit();
        self->start_write();
      });
  if (tls_) {
    boost::asio::async_write(tls_->stream, boost::asio::buffer(write_buffer_), std::move(written));
  } else {
    boost::asio::async_write(socket_, boost::asio::buffer(write_buffer_), std::move(written));
  }
}

// The read that is always pending holds only a weak reference: dropping the last owner of an
// idle connection destroys (and so closes) it.
void Connection::start_read() {
  std::weak_ptr<Connection> weak = shared_from_this();
  auto received = boost::asio::bind_executor(
      strand_, [weak, tls = tls_](const boost::system::error_code& ec, std::size_t n) {
        auto self = weak.lock();
        if (!self || self->state_.load() == State::closed) return;
        if (ec) return self->fail_lost("lost the connection: ", ec);
        self->on_read(n);
      });
  if (tls_) {
    tls_->stream.async_read_some(boost::asio::buffer(read_buffer_), std::move(received));
  } else {
    socket_.async_read_some(boost::asio::buffer(read_buffer_), std::move(received));
  }
}

void Connection::on_read(std::size_t size) {
  const auto invalid = [this] {
    shut_down(error_for(Error::Kind::protocol_error,
                        "invalid reply: " + reader_->error() + "; the connection was closed"));
  };
  if (!reader_->feed(read_buffer_.data(), size)) return invalid();
  for (;;) {
    Reply reply;
    auto status = reader_->next(reply);
    if (status == detail::ReplyReader::Status::need_more) break;
    if (status == detail::ReplyReader::Status::protocol_error) return invalid();
    ReplyCallback done;
    {
      std::lock_guard lock(mutex_);
      if (!pending_.empty()) {
        done = std::move(pending_.front().done);
        pending_.pop_front();
      }
    }
    if (!done) {
      return shut_down(error_for(Error::Kind::protocol_error,
                                 "the server sent a reply nobody asked for (" + describe(reply) +
                                     "); the connection was closed"));
    }
    detail::run_callback([&] { done(std::nullopt, std::move(reply)); });
    if (state_.load() == State::closed) return;  // the callback closed us
  }
  start_read();
}

void Connection::fail_lost(const char* what, const boost::system::error_code& ec) {
  shut_down(error_for(Error::Kind::connection_lost,
                      what + socket_error(ec) + "; the commands in flight may or may not have run"));
}

// ---- timeouts and closing ------------------------------------------------------------------

// One timer per connection, set for the earliest deadline it knows of; on firing it looks for
// expired commands and otherwise re-arms for the next deadline (replies never touch it).
void Connection::arm_timer(Clock::time_point at) {
  timer_at_ = at;
  command_timer_.expires_at(at);
  command_timer_.async_wait(boost::asio::bind_executor(
      strand_, [weak = weak_from_this(), at](const boost::system::error_code& ec) {
        auto self = weak.lock();  // weak, as the read: idle connections die with their owner
        if (ec || !self || self->timer_at_ != at || self->state_.load() == State::closed) return;
        self->on_timer();
      }));
}

void Connection::on_timer() {
  timer_at_ = Clock::time_point::max();
  const auto now = Clock::now();
  std::vector<Pending> expired;
  Clock::time_point next = Clock::time_point::max();
  {
    std::lock_guard lock(mutex_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->deadline <= now) {
        expired.push_back(std::move(*it));
        it = pending_.erase(it);
      } else {
        next = std::min(next, it->deadline);
        ++it;
      }
    }
  }
  if (expired.empty()) {
    if (next != Clock::time_point::max()) arm_timer(next);
    return;
  }
  const std::string name = expired.front().name;
  shut_down(error_for(Error::Kind::connection_lost,
                      "the connection was closed because " + name +
                          " timed out; the commands in flight may or may not have run"));
  for (auto& p : expired) {
    Error e = error_for(Error::Kind::timeout,
                        "no reply to " + p.name + " within " +
                            format_seconds(p.limit_s) +
                            " (command_timeout); the connection was closed, the command may or "
                            "may not have run");
    detail::run_callback([&] { p.done(e, Reply{}); });
  }
}

void Connection::close() {
  auto self = shared_from_this();
  boost::asio::post(strand_, [self] {
    self->shut_down(self->error_for(Error::Kind::closed, "the connection was closed"));
  });
}

void Connection::shut_down(const Error& error) {
  const State before = state_.exchange(State::closed);
  close_socket();
  resolver_.cancel();
  connect_timer_.cancel();
  command_timer_.cancel();
  timer_at_ = Clock::time_point::max();
  std::deque<Pending> failed;
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    failed.swap(pending_);
    outgoing_.clear();
  }
  if (before == State::open && on_close_) {
    auto handler = std::move(on_close_);
    on_close_ = nullptr;
    detail::run_callback([&] { handler(error); });
  }
  for (auto& p : failed) detail::run_callback([&] { p.done(error, Reply{}); });
  if (on_connect_) {
    // Still connecting: the failure (a timeout, or the server hanging up during the handshake)
    // is the connect's.
    auto done = std::move(on_connect_);
    on_connect_ = nullptr;
    Error failed_connect = error;
    if (error.kind != Error::Kind::timeout && error.kind != Error::Kind::closed) {
      failed_connect.kind = Error::Kind::connect_failed;
    }
    detail::run_callback([&] { done(std::move(failed_connect)); });
  }
}

std::size_t Connection::in_flight() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

bool Connection::reusable() const {
  if (!is_open()) return false;
  std::lock_guard lock(mutex_);
  return pending_.empty() && !in_multi_ && !watching_ && !session_changed_;
}

}  // namespace puff::redis
