// The reading half of a Connection, its timers and its closing. See connection.h.
#include "http/detail/connection.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>

#include "core/durations.h"
#include "core/log.h"
#include "http/detail/call_safely.h"
#include "http/detail/server_state.h"

namespace puff::http::detail {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kReadChunk = 16 * 1024;
// The pieces of a body the connection reads for itself (reading ahead, draining).
constexpr std::size_t kBodyPiece = 64 * 1024;
// The rest of a body nobody read is dropped up to this much to keep the connection; beyond,
// closing is cheaper.
constexpr std::uint64_t kMaxDrainBytes = 1024 * 1024;
constexpr double kLingerSeconds = 2.0;
// When the server stops, an idle connection waits this long (at most its keep-alive or header
// timeout) for a request its client may have sent already: closing at once would lose it.
constexpr double kStopGraceSeconds = 1.0;
// min_body_rate is measured over this long (at most idle_timeout): see body_pace.h.
constexpr double kBodyRateWindowSeconds = 10.0;

}  // namespace

Connection::Connection(Socket socket, std::shared_ptr<ServerState> server, Peer peer,
                       std::uint64_t id)
    : socket_(std::move(socket)), server_(std::move(server)), peer_(std::move(peer)), id_(id),
      reader_(ReaderLimits{server_->options.max_header_bytes, server_->options.max_header_fields,
                           server_->options.max_body_bytes}),
      read_timer_(socket_.get_executor()), write_timer_(socket_.get_executor()) {}

Connection::~Connection() = default;

void Connection::start() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    self->arm_read_timer(ReadTimer::header, self->server_->options.header_timeout_s);
    self->continue_reading();
  });
}

void Connection::begin_shutdown() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    if (self->closed_ || self->lingering_ || !self->accepting_requests_) return;
    const ExchangeState* last = self->exchanges_.empty() ? nullptr : self->exchanges_.back().get();
    if (last && !last->head_queued) {
      self->accepting_requests_ = false;  // its response says Connection: close
      return;
    }
    // Idle, or the last response already promised keep-alive: the client may have sent its
    // next request already. Answer it (with Connection: close), then close; a client that sends
    // nothing is closed after a short grace (header_timeout bounds one that starts a head).
    self->stop_after_next_ = true;
    if (!last && !self->reading_body_of_ && !self->head_started_ && self->reader_.buffered() == 0) {
      self->arm_idle_timer();
    }
  });
}

void Connection::close_now_async() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->close_now(); });
}

// ---- reading requests ----------------------------------------------------------------------

void Connection::continue_reading() {
  if (closed_ || lingering_) return;
  if (reading_body_of_) {
    pump_body();
    return;
  }
  if (!accepting_requests_ || read_eof_) {
    if (exchanges_.empty()) close_gracefully();
    return;
  }
  if (exchanges_.size() >= static_cast<std::size_t>(server_->options.pipeline_depth)) return;
  parse_head();
}

void Connection::parse_head() {
  if (reader_.buffered() > 0 && !head_started_) {
    head_started_ = true;
    arm_read_timer(ReadTimer::header, server_->options.header_timeout_s);
  }
  RequestReader::Head next;
  HeadVerdict refusal;
  switch (reader_.read_head(next, refusal)) {
    case RequestReader::Step::ready:
      dispatch_head(std::move(next));
      return;
    case RequestReader::Step::refused:
      reject_head(next.head, refusal);
      return;
    case RequestReader::Step::need_more:
      break;
  }
  if (reader_.buffered() == 0 && exchanges_.empty() && read_timer_kind_ == ReadTimer::none) {
    arm_idle_timer();
  }
  read_socket();
}

void Connection::arm_idle_timer() {
  double seconds =
      first_request_ ? server_->options.header_timeout_s : server_->options.keepalive_timeout_s;
  if (stop_after_next_) seconds = std::min(seconds, kStopGraceSeconds);
  arm_read_timer(first_request_ ? ReadTimer::header : ReadTimer::keepalive, seconds);
}

void Connection::dispatch_head(RequestReader::Head next) {
  auto ex = std::make_shared<ExchangeState>();
  ex->started = std::chrono::steady_clock::now();
  ex->head = std::move(next.head);
  ex->head.peer = peer_;
  ex->keep_alive = next.keep_alive;
  ex->head_request = ex->head.method == "HEAD";
  if (!ex->keep_alive || stop_after_next_) accepting_requests_ = false;
  first_request_ = false;
  head_started_ = false;
  cancel_read_timer();

  exchanges_.push_back(ex);
  if (next.has_body) {
    reading_body_of_ = ex;
    start_body_pace();
  } else {
    ex->set_body_done();
  }
  server_->requests_total.fetch_add(1, std::memory_order_relaxed);
  if (const StaticMount* mount = find_static_mount(server_->options.static_mounts, ex->head)) {
    serve_static(ex, *mount);
    continue_reading();
    return;
  }
  arm_request_timer(ex);
  if (next.has_body && server_->options.body_buffer_bytes > 0) {
    // The handler gets the request once its body is in (or body_buffer_bytes of it): a slow
    // client holds a buffer meanwhile, not a running request. Its 100 Continue goes out now.
    ex->prebuffering = true;
    if (ex->head.content_length) {
      ex->prebuffered.reserve(static_cast<std::size_t>(
          std::min(*ex->head.content_length, server_->options.body_buffer_bytes)));
    }
    if (ex->head.expects_continue) queue_continue(*ex);
  } else {
    hand_to_handler(ex);
  }
  continue_reading();
}

void Connection::hand_to_handler(const std::shared_ptr<ExchangeState>& ex) {
  auto handle = std::make_shared<Exchange>(shared_from_this(), ex);
  try {
    server_->handler(std::move(handle));
  } catch (const std::exception& e) {
    core::log_error("http: the request handler threw: ", e.what());
  } catch (...) {
    core::log_error("http: the request handler threw");
  }
}

void Connection::queue_continue(ExchangeState& ex) {
  ex.continue_sent = true;
  ex.out.push_back({"HTTP/1.1 100 Continue\r\n\r\n", nullptr});
  flush();  // written once the responses before it are (flush writes the front's only)
}

void Connection::start_body_pace() {
  const ServerOptions& options = server_->options;
  double window = options.min_body_rate > 0
                      ? std::min(kBodyRateWindowSeconds, options.idle_timeout_s)
                      : options.idle_timeout_s;
  body_pace_.emplace(options.min_body_rate, window);
}

// A request that never reached the handler (unparseable, too large, ambiguous framing):
// answered in order behind the responses in flight, then the connection closes; nothing
// after it on the connection is read as a request.
void Connection::reject_head(const RequestHead& parsed, const HeadVerdict& verdict) {
  auto ex = std::make_shared<ExchangeState>();
  ex->started = std::chrono::steady_clock::now();
  ex->head.method = parsed.method.empty() ? "-" : parsed.method;
  ex->head.target = parsed.target.empty() ? "-" : parsed.target;
  ex->head.peer = peer_;
  ex->set_body_done();
  accepting_requests_ = false;
  cancel_read_timer();
  exchanges_.push_back(ex);
  fail_request(ex, verdict.status, std::string(verdict.reason), verdict.why);
}

void Connection::pump_body() {
  std::shared_ptr<ExchangeState> ex = reading_body_of_;
  auto now = std::chrono::steady_clock::now();
  if (!ex->body_waiter && !ex->draining && !ex->prebuffering) {
    stop_waiting_for_body(now);  // nobody asks: the client waits (backpressure)
    return;
  }
  for (;;) {
    RequestReader::BodyPiece piece;
    HeadVerdict refusal;
    RequestReader::Step step = reader_.read_body(body_read_size(*ex), piece, refusal);
    if (step == RequestReader::Step::refused) {
      reading_body_of_.reset();
      accepting_requests_ = false;
      fail_body(*ex, std::string(refusal.why));
      fail_request(ex, refusal.status, std::string(refusal.reason), refusal.why);
      return;
    }
    body_pace_->received(piece.data.size(), now);
    if (piece.done) {
      ex->set_body_done();
      reading_body_of_.reset();
    }
    if (step == RequestReader::Step::need_more) break;  // need bytes from the socket
    if (ex->draining) {
      ex->drained += piece.data.size();
      if (piece.done) {
        continue_reading();
        return;
      }
      if (ex->drained > kMaxDrainBytes) {
        reading_body_of_.reset();
        close_gracefully();
        return;
      }
      continue;
    }
    if (ex->prebuffering) {
      ex->prebuffered += piece.data;
      if (!piece.done && ex->prebuffered.size() < server_->options.body_buffer_bytes) continue;
      ex->prebuffering = false;
      hand_to_handler(ex);  // the rest, if any, is read when the application asks
    } else {
      BodyCallback waiter = std::move(ex->body_waiter);
      ex->body_waiter = nullptr;
      call_safely(waiter, BodyRead{std::move(piece.data), piece.done, ""});
    }
    if (piece.done) {
      continue_reading();
    } else {
      stop_waiting_for_body(now);
    }
    return;
  }
  body_pace_->waiting(now);
  arm_read_timer(ReadTimer::body, body_pace_->seconds_left(now));
  read_socket();
}

std::size_t Connection::body_read_size(const ExchangeState& ex) const {
  if (ex.draining) return kBodyPiece;
  if (ex.prebuffering) {
    return std::min<std::size_t>(kBodyPiece,
                                 server_->options.body_buffer_bytes - ex.prebuffered.size());
  }
  return ex.body_max;
}

void Connection::stop_waiting_for_body(std::chrono::steady_clock::time_point now) {
  if (read_timer_kind_ == ReadTimer::body) cancel_read_timer();
  body_pace_->paused(now);
}

void Connection::read_socket() {
  if (socket_read_pending_ || closed_) return;
  socket_read_pending_ = true;
  if (reader_.buffered() == 0 && exchanges_.empty() && !reading_body_of_) {
    // Idle between requests (most of a keep-alive connection's life): hold no read buffer,
    // wait for readability and allocate only then, so 10,000 idle connections cost little.
    reader_.release_memory();
    socket_.async_wait(asio::socket_base::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (ec) {
                           self->on_read(ec, 0);
                           return;
                         }
                         self->read_now();
                       });
    return;
  }
  read_now();
}

void Connection::read_now() {
  boost::asio::mutable_buffer space = reader_.prepare(kReadChunk);
  if (space.size() == 0) {  // full: the request rules refuse a head before this can happen
    socket_read_pending_ = false;
    return;
  }
  socket_read_pending_ = true;
  socket_.async_read_some(space,
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  socket_read_pending_ = false;
  if (closed_) return;
  if (lingering_) {
    if (ec) {
      close_now();
    } else {
      reader_.discard_input();
      linger_read();
    }
    return;
  }
  if (ec) {
    read_eof_ = true;
    client_gone_.store(true, std::memory_order_relaxed);
    if (reading_body_of_) {
      // The client went away (or half-closed) in the middle of a body.
      std::shared_ptr<ExchangeState> ex = reading_body_of_;
      reading_body_of_.reset();
      reader_.abandon();
      const char* why = "the client closed the connection before the end of the request body";
      fail_body(*ex, why);
      if (ex->prebuffering) fail_request(ex, 400, "Bad Request", why);  // no handler to answer
    }
    if (ec != asio::error::eof || exchanges_.empty()) {
      close_now();  // reset or nothing in flight: nobody is left to answer
      return;
    }
    cancel_read_timer();
    return;  // half-closed: the responses in flight still go out, then close
  }
  reader_.commit(n);
  continue_reading();
}

void Connection::read_body(std::shared_ptr<ExchangeState> ex, std::size_t max,
                           BodyCallback done) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), ex = std::move(ex), max,
                                          done = std::move(done)]() mutable {
    if (!ex->body_error.empty()) {
      call_safely(done, BodyRead{"", false, ex->body_error});
      return;
    }
    if (ex->prebuffered_taken < ex->prebuffered.size()) {
      call_safely(done, take_prebuffered(*ex, max));
      return;
    }
    if (ex->body_done) {
      call_safely(done, BodyRead{"", true, ""});
      return;
    }
    if (self->closed_ || ex->failed) {
      call_safely(done, BodyRead{"", false, "the connection is closed"});
      return;
    }
    if (ex->body_waiter) {
      call_safely(done, BodyRead{"", false, "a body read is already in progress"});
      return;
    }
    ex->body_waiter = std::move(done);
    ex->body_max = max == 0 ? 1 : max;
    if (ex->head.expects_continue && !ex->continue_sent && !ex->head_queued &&
        !self->exchanges_.empty() && self->exchanges_.front() == ex) {
      self->queue_continue(*ex);
    }
    if (self->reading_body_of_ == ex) self->pump_body();
  });
}

// Up to `max` bytes of what was read ahead; its memory goes once it is all taken.
BodyRead Connection::take_prebuffered(ExchangeState& ex, std::size_t max) {
  std::size_t left = ex.prebuffered.size() - ex.prebuffered_taken;
  BodyRead read;
  if (ex.prebuffered_taken == 0 && max >= left) {
    read.data = std::move(ex.prebuffered);
  } else {
    read.data = ex.prebuffered.substr(ex.prebuffered_taken, std::min(max, left));
  }
  ex.prebuffered_taken += read.data.size();
  if (read.data.size() == left) {
    std::string().swap(ex.prebuffered);
    ex.prebuffered_taken = 0;
    read.eof = ex.body_done;
  }
  return read;
}

// ---- timers and closing --------------------------------------------------------------------

void Connection::arm_read_timer(ReadTimer kind, double timeout_s) {
  read_timer_kind_ = kind;
  std::uint64_t generation = ++read_timer_generation_;
  read_timer_.expires_after(core::seconds(timeout_s));
  read_timer_.async_wait(
      [self = shared_from_this(), kind, generation](const boost::system::error_code& ec) {
        if (ec || generation != self->read_timer_generation_ || self->closed_) return;
        self->on_read_timeout(kind);
      });
}

void Connection::cancel_read_timer() {
  if (read_timer_kind_ == ReadTimer::none) return;
  read_timer_kind_ = ReadTimer::none;
  ++read_timer_generation_;
  read_timer_.cancel();
}

void Connection::on_read_timeout(ReadTimer kind) {
  read_timer_kind_ = ReadTimer::none;
  if (lingering_) {
    close_now();
    return;
  }
  if (kind == ReadTimer::body && reading_body_of_) {
    std::shared_ptr<ExchangeState> ex = reading_body_of_;
    reading_body_of_.reset();
    reader_.abandon();
    if (ex->draining) {  // its response is out: nobody waits for the rest
      close_now();
      return;
    }
    const char* why = server_->options.min_body_rate > 0
                          ? "the request body arrived slower than min_body_rate"
                          : "timed out waiting for the request body (idle_timeout_s)";
    fail_body(*ex, why);
    fail_request(ex, 408, "Request Timeout", why);
    return;
  }
  if (kind == ReadTimer::header && head_started_) {
    core::log_info("http: dropped a connection that did not send a complete request head "
                   "within header_timeout_s");
  }
  if (exchanges_.empty()) {
    close_now();
  } else {
    accepting_requests_ = false;  // answer what is in flight, then close
    reader_.abandon();
  }
}

void Connection::arm_request_timer(const std::shared_ptr<ExchangeState>& ex) {
  ex->request_timer.emplace(socket_.get_executor(), core::seconds(server_->options.request_timeout_s));
  std::weak_ptr<ExchangeState> weak = ex;
  ex->request_timer->async_wait(
      [self = shared_from_this(), weak](const boost::system::error_code& ec) {
        auto ex = weak.lock();
        if (ec || !ex || ex->head_queued || self->closed_) return;
        core::log_warning("http: ", ex->head.method, " ", ex->head.target,
                          " did not start its response within request_timeout_s");
        if (ex->body_waiter || ex->prebuffering) {
          self->fail_request(ex, 408, "Request Timeout");
        } else {
          self->fail_request(ex, 503, "Service Unavailable");
        }
      });
}

// Sends FIN, then reads and drops what the client still sends for a moment before closing:
// closing with unread input makes the kernel send RST, which can destroy the response (a 413
// or 400) before the client has read it.
void Connection::close_gracefully() {
  if (closed_ || lingering_) return;
  lingering_ = true;
  cancel_read_timer();
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
  arm_read_timer(ReadTimer::none, kLingerSeconds);
  reader_.discard_input();
  if (read_eof_) {
    close_now();
    return;
  }
  linger_read();
}

void Connection::linger_read() {
  if (socket_read_pending_) return;
  socket_read_pending_ = true;
  socket_.async_read_some(reader_.prepare(kReadChunk),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t) {
                            self->socket_read_pending_ = false;
                            if (self->closed_) return;
                            if (ec) {
                              self->close_now();
                            } else {
                              self->linger_read();
                            }
                          });
}

void Connection::close_now() {
  if (closed_) return;
  closed_ = true;
  client_gone_.store(true, std::memory_order_relaxed);
  ++read_timer_generation_;
  read_timer_.cancel();
  write_timer_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  std::deque<std::shared_ptr<ExchangeState>> exchanges = std::move(exchanges_);
  exchanges_.clear();
  if (reading_body_of_) exchanges.push_back(reading_body_of_);
  reading_body_of_.reset();
  reader_.abandon();
  for (auto& ex : exchanges) {
    if (ex->request_timer) ex->request_timer->cancel();
    fail_body(*ex, "the connection is closed");
    std::vector<ExchangeState::Pending> out = std::move(ex->out);
    ex->out.clear();
    for (auto& pending : out) call_safely(pending.done, false);
  }
  server_->connection_closed(id_);
}

}  // namespace puff::http::detail
