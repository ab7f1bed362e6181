#include "pg/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <exception>
#include <utility>

#include "core/log.h"
#include "pg/detail/connection_op.h"
#include "pg/detail/libpq_text.h"

namespace puff::pg {
namespace {

constexpr std::size_t kMaxNotices = 1000;

// The parameters PostgreSQL reports to clients (GUC_REPORT), snapshotted at connect.
constexpr const char* kReportedParameters[] = {
    "application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
    "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
    "server_version", "session_authorization", "standard_conforming_strings", "TimeZone"};

std::string field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v ? v : "";
}

Error error_from_result(const Result& r) {
  Error e;
  e.kind = Error::Kind::query_failed;
  e.sqlstate = std::string(r.sqlstate());
  e.message = detail::trim(std::string(r.primary_message()));
  if (e.message.empty()) e.message = detail::one_line(std::string(r.error_message()));
  e.detail = std::string(r.detail());
  e.hint = std::string(r.hint());
  return e;
}

// The conninfo's own value for `keyword`, "" when unset; false when the conninfo is invalid.
bool conninfo_value(const std::string& conninfo, const char* keyword, std::string* value,
                    std::string* error) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err);
  if (!options) {
    *error = err ? detail::one_line(err) : "out of memory";
    if (err) PQfreemem(err);
    return false;
  }
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (std::string(o->keyword) == keyword && o->val) *value = o->val;
  }
  PQconninfoFree(options);
  return true;
}

}  // namespace

const char* kind_name(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::connect_failed: return "connect_failed";
    case Error::Kind::query_failed: return "query_failed";
    case Error::Kind::connection_lost: return "connection_lost";
    case Error::Kind::timeout: return "timeout";
    case Error::Kind::pool_timeout: return "pool_timeout";
    case Error::Kind::cancelled: return "cancelled";
    case Error::Kind::closed: return "closed";
    case Error::Kind::copy_refused: return "copy_refused";
  }
  return "unknown";
}

std::shared_ptr<Connection> Connection::create(boost::asio::io_context& io) {
  return std::shared_ptr<Connection>(new Connection(io));
}

Connection::Connection(boost::asio::io_context& io)
    : io_(io), strand_(boost::asio::make_strand(io)), connect_timer_(io) {}

Connection::~Connection() {
  // No handler is pending (each holds a reference), so nothing else touches these now.
  if (socket_) {
    boost::system::error_code ec;
    socket_->close(ec);  // our dup only; libpq closes its own fd in PQfinish
  }
  if (cancel_) PQfreeCancel(cancel_);
  if (conn_) PQfinish(conn_);
}

void Connection::connect(ConnectOptions options, ConnectCallback done) {
  if (busy_.exchange(true)) {
    throw UsageError("pg::Connection::connect called while another operation is in flight");
  }
  auto self = shared_from_this();
  boost::asio::post(strand_, [self, options = std::move(options), done = std::move(done)]() mutable {
    self->op_ = std::make_unique<Op>();
    self->op_->on_connect = std::move(done);
    self->start_connect(std::move(options));
  });
}

void Connection::execute(std::string sql, QueryCallback done) {
  if (busy_.exchange(true)) {
    throw UsageError("pg::Connection::execute called while another operation is in flight");
  }
  auto self = shared_from_this();
  boost::asio::post(strand_, [self, sql = std::move(sql), done = std::move(done)]() mutable {
    self->op_ = std::make_unique<Op>();
    self->op_->on_query = std::move(done);
    self->start_query(std::move(sql), std::nullopt);
  });
}

void Connection::execute(std::string sql, std::vector<std::optional<std::string>> params,
                         QueryCallback done) {
  if (busy_.exchange(true)) {
    throw UsageError("pg::Connection::execute called while another operation is in flight");
  }
  auto self = shared_from_this();
  boost::asio::post(strand_, [self, sql = std::move(sql), params = std::move(params),
                              done = std::move(done)]() mutable {
    self->op_ = std::make_unique<Op>();
    self->op_->on_query = std::move(done);
    self->start_query(std::move(sql), std::move(params));
  });
}

QueryOutcome Connection::execute_inline(std::string sql,
                                       const std::function<bool()>& interrupted) {
  if (busy_.exchange(true)) {
    throw UsageError("pg::Connection::execute_inline called while another operation is in flight");
  }
  QueryOutcome outcome;
  bool done = false;
  op_ = std::make_unique<Op>();
  op_->on_query = [&](QueryOutcome o) {
    outcome = std::move(o);
    done = true;
  };
  inline_ = true;
  inline_fresh_query_ = true;
  inline_events_ = 0;
  start_query(std::move(sql), std::nullopt);
  while (!done) {
    pollfd p{PQsocket(conn_), inline_events_, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready > 0) {
      inline_events_ = 0;  // on_socket_ready's next arm_wait says what to wait for
      on_socket_ready();
    } else if (ready < 0 && errno != EINTR) {
      fail_lost("waiting for the server");
    } else if (ready == 0 && interrupted && interrupted()) {
      close_now();
      finish(Error{Error::Kind::closed, "",
                   "the statement was interrupted; the connection is closed", "", ""});
    }
  }
  inline_ = false;
  return outcome;
}

bool Connection::cancel(std::string* why) {
  std::lock_guard lock(mutex_);
  if (!cancel_) {
    if (why) *why = "the connection is not open";
    return false;
  }
  char error[256] = {0};
  if (!PQcancel(cancel_, error, sizeof error)) {
    if (why) *why = detail::one_line(error);
    return false;
  }
  return true;
}

void Connection::close() {
  auto self = shared_from_this();
  boost::asio::post(strand_, [self] {
    self->close_now();
    if (self->op_) {
      self->finish(Error{Error::Kind::closed, "", "the connection was closed during the operation",
                         "", ""});
    }
  });
}

std::vector<Notice> Connection::drain_notices() {
  std::lock_guard lock(mutex_);
  std::vector<Notice> out(std::make_move_iterator(notices_.begin()),
                          std::make_move_iterator(notices_.end()));
  notices_.clear();
  return out;
}

std::string Connection::parameter_status(const std::string& name) const {
  if (!conn_) return "";
  const char* v = PQparameterStatus(conn_, name.c_str());
  return v ? v : "";
}

// ---- connect -------------------------------------------------------------------------------

void Connection::start_connect(ConnectOptions options) {
  if (conn_) close_now();  // connecting again replaces the old session

  std::string existing_options;
  std::string error;
  if (!conninfo_value(options.conninfo, "options", &existing_options, &error)) {
    finish(Error{Error::Kind::connect_failed, "",
                 "invalid PostgreSQL connection string: " + error + "; check the [[postgres]] url",
                 "", ""});
    return;
  }
  std::string server_options = existing_options;
  if (options.statement_timeout_s > 0) {
    auto ms = static_cast<long long>(std::ceil(options.statement_timeout_s * 1000.0));
    if (!server_options.empty()) server_options += " ";
    server_options += "-c statement_timeout=" + std::to_string(ms);
  }

  // With expand_dbname the URI/conninfo in "dbname" is expanded first and later keywords
  // override it. libpq's connect_timeout is not passed: it only applies to blocking connects.
  std::vector<const char*> keywords{"dbname"};
  std::vector<const char*> values{options.conninfo.c_str()};
  if (!server_options.empty()) {
    keywords.push_back("options");
    values.push_back(server_options.c_str());
  }
  if (!options.application_name.empty()) {
    keywords.push_back("application_name");
    values.push_back(options.application_name.c_str());
  }
  keywords.push_back("fallback_application_name");
  values.push_back("puff");
  keywords.push_back(nullptr);
  values.push_back(nullptr);

  conn_ = PQconnectStartParams(keywords.data(), values.data(), 1);
  if (!conn_) {
    finish(Error{Error::Kind::connect_failed, "", "out of memory starting a libpq connection", "",
                 ""});
    return;
  }
  PQsetNoticeReceiver(conn_, &Connection::notice_receiver, this);
  const char* host = PQhost(conn_);
  const char* port = PQport(conn_);
  where_ = std::string(host ? host : "?") + ":" + (port ? port : "");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    Error e = libpq_error(Error::Kind::connect_failed, "");
    close_now();
    finish(e);
    return;
  }

  phase_ = Phase::connecting;
  if (options.connect_timeout_s > 0) {
    connect_timer_.expires_after(std::chrono::milliseconds(
        static_cast<long long>(std::ceil(options.connect_timeout_s * 1000.0))));
    auto self = shared_from_this();
    const double seconds = options.connect_timeout_s;
    connect_timer_.async_wait(boost::asio::bind_executor(
        strand_, [self, seconds, generation = op_generation_](const boost::system::error_code& ec) {
          if (ec || generation != self->op_generation_ || self->phase_ != Phase::connecting) return;
          std::string where = self->where_;
          self->close_now();
          char text[64];
          std::snprintf(text, sizeof text, "%g", seconds);
          self->finish(Error{Error::Kind::timeout, "",
                             "connecting to PostgreSQL at " + where + " timed out after " + text +
                                 " s; check that the server is up and reachable, or raise "
                                 "connect_timeout",
                             "", ""});
        }));
  }
  // PQconnectStart* behaves as if PQconnectPoll had returned PGRES_POLLING_WRITING.
  poll_connect(PGRES_POLLING_WRITING);
}

void Connection::poll_connect(PostgresPollingStatusType status) {
  switch (status) {
    case PGRES_POLLING_OK:
      on_connected();
      return;
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
      // libpq may have switched sockets (next host or address, SSL fallback): re-register
      // every time, never trust the previous descriptor.
      if (!watch_socket()) {
        Error e = libpq_error(Error::Kind::connect_failed, "");
        close_now();
        finish(e);
        return;
      }
      arm_wait(status == PGRES_POLLING_WRITING);
      return;
    default: {
      Error e = libpq_error(Error::Kind::connect_failed, "");
      close_now();
      finish(e);
      return;
    }
  }
}

void Connection::on_connected() {
  if (PQsetnonblocking(conn_, 1) != 0 || !watch_socket()) {
    Error e = libpq_error(Error::Kind::connect_failed, "");
    close_now();
    finish(e);
    return;
  }
  backend_pid_ = PQbackendPID(conn_);
  server_version_ = PQserverVersion(conn_);
  auto text = [](const char* v) { return std::string(v ? v : ""); };
  session_info_ = SessionInfo{text(PQhost(conn_)), text(PQport(conn_)), text(PQdb(conn_)),
                              text(PQuser(conn_)), text(PQpass(conn_)), text(PQoptions(conn_)),
                              PQsslInUse(conn_) == 1};
  connect_parameters_.clear();
  for (const char* name : kReportedParameters) {
    connect_parameters_.emplace_back(name, text(PQparameterStatus(conn_, name)));
  }
  {
    std::lock_guard lock(mutex_);
    cancel_ = PQgetCancel(conn_);
  }
  finish(std::nullopt);
}

const std::string& Connection::connect_parameter(std::string_view name) const {
  static const std::string unknown;
  for (const auto& [key, value] : connect_parameters_) {
    if (key == name) return value;
  }
  return unknown;
}

// ---- queries -------------------------------------------------------------------------------

void Connection::start_query(std::string sql,
                             std::optional<std::vector<std::optional<std::string>>> params) {
  if (!conn_ || !open_.load()) {
    finish(Error{Error::Kind::closed, "",
                 "the PostgreSQL connection is closed; use a new connection", "", ""});
    return;
  }
  int sent;
  if (params) {
    std::vector<const char*> values;
    values.reserve(params->size());
    for (const auto& p : *params) values.push_back(p ? p->c_str() : nullptr);
    sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  } else {
    sent = PQsendQuery(conn_, sql.c_str());
  }
  if (!sent) {
    if (PQstatus(conn_) == CONNECTION_BAD) {
      fail_lost("sending a query");
    } else {
      finish(libpq_error(Error::Kind::query_failed, "could not send the query"));
    }
    return;
  }
  phase_ = Phase::flushing;
  flush_step();
}

void Connection::flush_step() {
  int r = PQflush(conn_);
  if (r < 0) return fail_lost("sending a query");
  if (r == 1) return arm_wait(true);
  phase_ = Phase::reading;
  // Inline, just after the query went out, its answer cannot be there yet: poll() for it rather
  // than a read that would find nothing (one syscall less per statement). Later flushes (COPY)
  // read first: libpq may already hold what comes next.
  if (std::exchange(inline_fresh_query_, false)) return arm_wait(false);
  read_step();
}

void Connection::read_step() {
  if (!PQconsumeInput(conn_)) return fail_lost("reading a result");
  for (;;) {
    if (PQisBusy(conn_)) return arm_wait(false);
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    take_result(r);
    // A COPY began (connection_copy.cpp): its data comes first, then the next results.
    if (phase_ == Phase::copy_in) return copy_in_step();
    if (phase_ == Phase::copy_out) return copy_out_step();
    if (!op_) return;  // refused and closed (a replication stream)
  }
  if (PQstatus(conn_) == CONNECTION_BAD) return fail_lost("running a query");
  finish(std::nullopt);
}

void Connection::take_result(PGresult* raw) {
  Result result(raw);
  QueryOutcome& out = op_->outcome;
  switch (result.status()) {
    case PGRES_FATAL_ERROR:
      if (!out.error) {
        out.error = error_from_result(result);
        out.error->server_result = std::make_shared<const Result>(std::move(result));
      }
      return;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
      begin_copy(result.status());
      return;
    case PGRES_COPY_BOTH: {
      // Only a replication connection gets here (START_REPLICATION): no way to finish it.
      Error e{Error::Kind::query_failed, "0A000",
              "replication streams (COPY BOTH) are not supported; the connection was closed", "",
              ""};
      close_now();
      finish(e);
      return;
    }
    default:
      out.results.push_back(std::move(result));
  }
}

void Connection::fail_lost(const std::string& during) {
  Error e = libpq_error(Error::Kind::connection_lost, "");
  // The server usually says why it hung up (57P01 terminated by an administrator, ...).
  if (op_ && op_->outcome.error && !op_->outcome.error->sqlstate.empty()) {
    e.sqlstate = op_->outcome.error->sqlstate;
    e.message = op_->outcome.error->message;
  }
  e.message = "lost the connection to PostgreSQL at " + where_ + " while " + during + ": " +
              e.message + "; the operation was not completed";
  close_now();
  finish(e);
}

// ---- sockets -------------------------------------------------------------------------------

bool Connection::watch_socket() {
  if (socket_) {
    boost::system::error_code ec;
    socket_->close(ec);
    socket_.reset();
  }
  ++wait_generation_;
  int fd = PQsocket(conn_);
  if (fd < 0) return false;
  int mine = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (mine < 0) return false;
  socket_.emplace(io_);
  boost::system::error_code ec;
  socket_->assign(mine, ec);
  if (ec) {
    socket_.reset();
    ::close(mine);
    return false;
  }
  return true;
}

void Connection::arm_wait(bool for_write) {
  if (inline_) {
    inline_events_ = for_write ? POLLOUT : POLLIN;
    return;
  }
  const unsigned generation = ++wait_generation_;
  auto self = shared_from_this();
  socket_->async_wait(
      for_write ? boost::asio::posix::descriptor_base::wait_write
                : boost::asio::posix::descriptor_base::wait_read,
      boost::asio::bind_executor(strand_, [self, generation](const boost::system::error_code&) {
        // Any outcome (ready, cancelled below, error) means "look again": libpq reports the
        // real error. Waits superseded by a newer one or by close are ignored.
        if (generation == self->wait_generation_) self->on_socket_ready();
      }));
  // Asio's epoll reactor is edge-triggered and async_wait is not speculative (Boost 1.81,
  // epoll_reactor::start_op with allow_speculative = false): readiness that arrived
  // before the wait was queued (data libpq left in the kernel buffer) would never be reported.
  // A level check after queueing closes the gap: if already ready, complete the wait now.
  pollfd p{socket_->native_handle(), static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  if (::poll(&p, 1, 0) > 0) {
    boost::system::error_code ec;
    socket_->cancel(ec);
  }
}

void Connection::on_socket_ready() {
  switch (phase_) {
    case Phase::connecting:
      poll_connect(PQconnectPoll(conn_));
      return;
    case Phase::flushing:
      // Read what the server sent meanwhile, so that neither side blocks on a full buffer.
      if (!PQconsumeInput(conn_)) return fail_lost("sending a query");
      flush_step();
      return;
    case Phase::reading:
      read_step();
      return;
    case Phase::copy_in:
      if (!PQconsumeInput(conn_)) return fail_lost("sending COPY data");
      copy_in_step();
      return;
    case Phase::copy_out:
      copy_out_step();
      return;
    case Phase::none:
      return;
  }
}

// ---- completion ----------------------------------------------------------------------------

void Connection::finish(std::optional<Error> error) {
  phase_ = Phase::none;
  ++op_generation_;
  connect_timer_.cancel();
  if (op_ && op_->copy_mode && !op_->on_copy) {
    // Between two copy() steps nobody waits for an answer: the caller's next call gets it.
    if (error) op_->outcome.error = std::move(error);
    op_->ended = true;
    update_state();
    return;
  }
  copy_turn_.store(CopyTurn::none);
  collect_notifications();  // NOTIFYs libpq parsed during the operation
  std::unique_ptr<Op> op = std::move(op_);
  update_state();
  busy_.store(false);
  if (!op) return;
  if (error) op->outcome.error = std::move(error);
  detail::run_callback([&] {
    if (op->on_connect) {
      op->on_connect(std::move(op->outcome.error));
    } else if (op->on_query) {
      op->on_query(std::move(op->outcome));
    } else if (op->on_copy) {
      CopyStep step;
      step.outcome = std::move(op->outcome);
      op->on_copy(std::move(step));
    }
  });
}

void Connection::close_now() {
  ++wait_generation_;
  phase_ = Phase::none;
  if (socket_) {
    boost::system::error_code ec;
    socket_->close(ec);  // closes our dup first; libpq then closes its own fd
    socket_.reset();
  }
  {
    std::lock_guard lock(mutex_);
    if (cancel_) PQfreeCancel(cancel_);
    cancel_ = nullptr;
  }
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  update_state();
}

void Connection::update_state() {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    open_.store(false);
    tx_status_.store(TransactionStatus::unknown);
    return;
  }
  open_.store(true);
  switch (PQtransactionStatus(conn_)) {
    case PQTRANS_IDLE: tx_status_.store(TransactionStatus::idle); break;
    case PQTRANS_ACTIVE: tx_status_.store(TransactionStatus::active); break;
    case PQTRANS_INTRANS: tx_status_.store(TransactionStatus::in_transaction); break;
    case PQTRANS_INERROR: tx_status_.store(TransactionStatus::in_error); break;
    default: tx_status_.store(TransactionStatus::unknown); break;
  }
}

Error Connection::libpq_error(Error::Kind kind, const std::string& context) const {
  Error e;
  e.kind = kind;
  std::string reason = conn_ ? detail::one_line(PQerrorMessage(conn_)) : "not connected";
  e.message = context.empty() ? reason : context + ": " + reason;
  return e;
}

// ---- idle state (the pool asks before lending a connection) ------------------------------

bool Connection::has_unrequested_input() const {
  const int fd = conn_ ? PQsocket(conn_) : -1;
  if (fd < 0) return true;
  pollfd p{fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
  return ::poll(&p, 1, 0) != 0;  // readable, hung up, error, or poll itself failed
}

void Connection::notice_receiver(void* arg, const PGresult* r) {
  auto* self = static_cast<Connection*>(arg);
  Notice n;
  n.severity = field(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (n.severity.empty()) n.severity = field(r, PG_DIAG_SEVERITY);
  n.sqlstate = field(r, PG_DIAG_SQLSTATE);
  n.message = detail::trim(field(r, PG_DIAG_MESSAGE_PRIMARY));
  n.text = PQresultErrorMessage(r);
  std::lock_guard lock(self->mutex_);
  self->notices_.push_back(std::move(n));
  if (self->notices_.size() > kMaxNotices) self->notices_.pop_front();
}

}  // namespace puff::pg
