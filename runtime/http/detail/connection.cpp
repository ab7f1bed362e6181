#include "http/detail/connection.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <sys/sendfile.h>

#include <cerrno>
#include <cstdio>

#include "core/log.h"
#include "http/access_log.h"
#include "http/detail/server_state.h"
#include "http/request_rules.h"
#include "http/response_head.h"
#include "http/syntax.h"

namespace puff::http::detail {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kDrainChunk = 64 * 1024;
// The rest of a body nobody read is dropped up to this much to keep the connection; beyond,
// closing is cheaper.
constexpr std::uint64_t kMaxDrainBytes = 1024 * 1024;
constexpr double kLingerSeconds = 2.0;
// A chunk-size line (with its extensions) or the trailer section must fit in this much.
constexpr std::size_t kMaxChunkLineBytes = 16 * 1024;

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

std::optional<std::uint64_t> parse_length(const std::string& value) {
  if (value.empty() || value.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Calls a callback that must not throw; an escaping exception is logged, never propagated.
template <typename Callback, typename... Args>
void call_safely(Callback& callback, Args&&... args) {
  if (!callback) return;
  try {
    callback(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    core::log_error("http: a callback threw: ", e.what());
  } catch (...) {
    core::log_error("http: a callback threw");
  }
}

}  // namespace

Connection::Connection(Socket socket, std::shared_ptr<ServerState> server, Peer peer,
                       std::uint64_t id)
    : socket_(std::move(socket)), server_(std::move(server)), peer_(std::move(peer)), id_(id),
      buffer_(server_->options.max_header_bytes + kReadChunk),
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
    if (self->closed_) return;
    boost::system::error_code ec;
    bool idle = self->exchanges_.empty() && !self->reading_body_of_;
    bool arriving = self->head_started_ || self->buffer_.size() > 0 ||
                    self->socket_.available(ec) > 0;
    if (idle && arriving && self->accepting_requests_) {
      // A request is on its way: answer it (with Connection: close), then close; closing
      // now would lose it. header_timeout still bounds a client that never finishes it.
      self->stop_after_next_ = true;
      return;
    }
    self->accepting_requests_ = false;
    if (idle) self->close_now();
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
  if (!parser_) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    head_scanner_.emplace(HeadLimits{server_->options.max_header_bytes,
                                     server_->options.max_header_fields});
    head_started_ = false;
  }
  if (buffer_.size() > 0) {
    if (!head_started_) {
      head_started_ = true;
      arm_read_timer(ReadTimer::header, server_->options.header_timeout_s);
    }
    std::string_view buffered(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    HeadVerdict verdict;
    std::size_t head_bytes = head_scanner_->scan(buffered, verdict);
    if (verdict.refused()) {
      reject_head(verdict);
      return;
    }
    if (head_bytes > 0) {
      // Exactly the head: the parser stops there (eager off) and the body waits for a reader.
      std::size_t start = head_scanner_->head_start();
      boost::system::error_code ec;
      std::size_t used = parser_->put(asio::buffer(buffered.data() + start, head_bytes - start), ec);
      buffer_.consume(start + used);
      if (!ec && parser_->is_header_done()) {
        dispatch_head();
      } else if (ec == beast_http::error::header_limit) {
        reject_head({431, "Request Header Fields Too Large", "the request head is too large"});
      } else if (ec == beast_http::error::body_limit) {
        reject_head({413, "Payload Too Large", "the request body is larger than max_body_bytes"});
      } else {
        reject_head({400, "Bad Request", "the request head is malformed"});
      }
      return;
    }
  } else if (exchanges_.empty() && read_timer_kind_ == ReadTimer::none) {
    arm_read_timer(first_request_ ? ReadTimer::header : ReadTimer::keepalive,
                   first_request_ ? server_->options.header_timeout_s
                                  : server_->options.keepalive_timeout_s);
  }
  read_socket();
}

void Connection::dispatch_head() {
  auto& message = parser_->get();
  auto ex = std::make_shared<ExchangeState>();
  ex->started = std::chrono::steady_clock::now();
  RequestHead& head = ex->head;
  head.method = std::string(message.method_string());
  head.target = std::string(message.target());
  head.version = message.version() == 10 ? 10 : 11;
  head.headers.reserve(8);
  for (const auto& field : message) {
    head.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  if (auto length = parser_->content_length()) head.content_length = *length;
  head.chunked = parser_->chunked();
  for (const Header& header : head.headers) {
    if (head.version == 11 && header_is(header, "Expect") &&
        equals_ignoring_case(header.value, "100-continue")) {
      head.expects_continue = true;
    }
  }
  head.peer = peer_;
  Framing framing;
  HeadVerdict verdict = check_request_framing(head, framing);
  if (!verdict.refused() && framing.chunked != parser_->chunked()) {
    verdict = {400, "Bad Request", "the request's framing is ambiguous"};  // belt and braces
  }
  if (verdict.refused()) {
    reject_head(verdict);
    return;
  }
  ex->keep_alive = parser_->keep_alive() && !framing.close_after;
  ex->head_request = head.method == "HEAD";
  if (!ex->keep_alive || stop_after_next_) accepting_requests_ = false;
  first_request_ = false;
  head_started_ = false;
  cancel_read_timer();

  exchanges_.push_back(ex);
  if (parser_->is_done()) {
    ex->body_done = true;
    parser_.reset();
  } else {
    parser_->eager(true);
    reading_body_of_ = ex;
  }
  server_->requests_total.fetch_add(1, std::memory_order_relaxed);
  if (const StaticMount* mount = find_static_mount(server_->options.static_mounts, head)) {
    serve_static(ex, *mount);
    continue_reading();
    return;
  }
  arm_request_timer(ex);
  auto handle = std::make_shared<Exchange>(shared_from_this(), ex);
  try {
    server_->handler(std::move(handle));
  } catch (const std::exception& e) {
    core::log_error("http: the request handler threw: ", e.what());
  } catch (...) {
    core::log_error("http: the request handler threw");
  }
  continue_reading();
}

// A request that never reached the handler (unparseable, too large, ambiguous framing):
// answered in order behind the responses in flight, then the connection closes; nothing
// after it on the connection is read as a request.
void Connection::reject_head(const HeadVerdict& verdict) {
  auto ex = std::make_shared<ExchangeState>();
  ex->started = std::chrono::steady_clock::now();
  if (parser_ && parser_->is_header_done()) {
    ex->head.method = std::string(parser_->get().method_string());
    ex->head.target = std::string(parser_->get().target());
  } else {
    ex->head.method = "-";
    ex->head.target = "-";
  }
  ex->head.peer = peer_;
  ex->body_done = true;
  parser_.reset();
  accepting_requests_ = false;
  cancel_read_timer();
  exchanges_.push_back(ex);
  fail_request(ex, verdict.status, std::string(verdict.reason), verdict.why);
}

void Connection::pump_body() {
  std::shared_ptr<ExchangeState> ex = reading_body_of_;
  if (!ex->body_waiter && !ex->draining) {
    cancel_read_timer();  // nobody asks: the client waits (backpressure)
    return;
  }
  for (;;) {
    std::size_t max = ex->draining ? kDrainChunk : ex->body_max;
    std::string chunk(max, '\0');
    auto& body = parser_->get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    boost::system::error_code ec = beast_http::error::need_more;
    std::size_t used = 0;
    if (buffer_.size() > 0) {
      used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
    }
    std::size_t produced = max - body.size;
    body.data = nullptr;
    body.size = 0;
    chunk.resize(produced);
    if (ec == beast_http::error::need_buffer || ec == beast_http::error::need_more) ec = {};
    // Nothing taken from a full line's worth of bytes: a chunk-size line or trailer section
    // that never ends would otherwise hold the connection until idle_timeout.
    bool line_too_long = !ec && used == 0 && produced == 0 && buffer_.size() >= kMaxChunkLineBytes;
    if (ec || line_too_long) {
      bool too_large = ec == beast_http::error::body_limit;
      std::string error = too_large       ? "the request body is larger than max_body_bytes"
                          : line_too_long ? "a chunk-size line or the trailers are too long"
                                          : "invalid request body: " + ec.message();
      reading_body_of_.reset();
      parser_.reset();
      accepting_requests_ = false;
      fail_body(*ex, error);
      fail_request(ex, too_large ? 413 : 400, too_large ? "Payload Too Large" : "Bad Request",
                   error);
      return;
    }
    bool done = parser_->is_done();
    if (done) {
      ex->body_done = true;
      reading_body_of_.reset();
      parser_.reset();
    }
    if (produced == 0 && !done) break;  // need bytes from the socket
    if (ex->draining) {
      ex->drained += produced;
      if (done) {
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
    cancel_read_timer();
    BodyCallback waiter = std::move(ex->body_waiter);
    ex->body_waiter = nullptr;
    call_safely(waiter, BodyRead{std::move(chunk), done, ""});
    if (done) continue_reading();
    return;
  }
  arm_read_timer(ReadTimer::body, server_->options.idle_timeout_s);
  read_socket();
}

void Connection::read_socket() {
  if (socket_read_pending_ || closed_) return;
  std::size_t space = buffer_.max_size() - buffer_.size();
  if (space > kReadChunk) space = kReadChunk;
  if (space == 0) return;  // parse_head rejects a full buffer
  socket_read_pending_ = true;
  if (buffer_.size() == 0 && exchanges_.empty() && !reading_body_of_) {
    // Idle between requests (most of a keep-alive connection's life): hold no read buffer,
    // wait for readability and allocate only then, so 10,000 idle connections cost little.
    buffer_.shrink_to_fit();
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
  std::size_t space = buffer_.max_size() - buffer_.size();
  if (space > kReadChunk) space = kReadChunk;
  socket_read_pending_ = true;
  socket_.async_read_some(buffer_.prepare(space),
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
      buffer_.consume(buffer_.size());
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
      parser_.reset();
      fail_body(*ex, "the client closed the connection before the end of the request body");
    }
    if (ec != asio::error::eof || exchanges_.empty()) {
      close_now();  // reset or nothing in flight: nobody is left to answer
      return;
    }
    cancel_read_timer();
    return;  // half-closed: the responses in flight still go out, then close
  }
  buffer_.commit(n);
  continue_reading();
}

// ---- responses -----------------------------------------------------------------------------

void Connection::read_body(std::shared_ptr<ExchangeState> ex, std::size_t max,
                           BodyCallback done) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), ex = std::move(ex), max,
                                          done = std::move(done)]() mutable {
    if (!ex->body_error.empty()) {
      call_safely(done, BodyRead{"", false, ex->body_error});
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
      ex->continue_sent = true;
      ex->out.push_back({"HTTP/1.1 100 Continue\r\n\r\n", nullptr});
      self->flush();
    }
    if (self->reading_body_of_ == ex) self->pump_body();
  });
}

void Connection::send(std::shared_ptr<ExchangeState> ex, std::optional<ResponseHead> head,
                      std::string body, bool last, SendCallback done) {
  asio::dispatch(socket_.get_executor(),
                 [self = shared_from_this(), ex = std::move(ex), head = std::move(head),
                  body = std::move(body), last, done = std::move(done)]() mutable {
                   self->do_send(ex, std::move(head), std::move(body), last, std::move(done));
                 });
}

void Connection::do_send(const std::shared_ptr<ExchangeState>& ex,
                         std::optional<ResponseHead> head, std::string body, bool last,
                         SendCallback done) {
  if (closed_ || ex->failed || ex->finished || (head && ex->head_queued) ||
      (!head && !ex->head_queued)) {
    call_safely(done, false);
    return;
  }
  if (head) {
    std::string problem = check_response_head(*head);
    if (!problem.empty()) {
      core::log_error("http: refused an invalid response head: ", problem);
      fail_request(ex, 500, "Internal Server Error");
      call_safely(done, false);
      return;
    }
    queue_head(*ex, *head);
  }
  std::string framed = frame_body(*ex, std::move(body), last);
  if (last) {
    ex->finished = true;
    if (ex->request_timer) ex->request_timer->cancel();
  }
  ex->out.push_back({std::move(framed), std::move(done)});
  flush();
}

void Connection::send_file(std::shared_ptr<ExchangeState> ex, ResponseHead head,
                           std::shared_ptr<FileSegment> file, SendCallback done) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), ex = std::move(ex),
                                          head = std::move(head), file = std::move(file),
                                          done = std::move(done)]() mutable {
    if (self->closed_ || ex->failed || ex->finished || ex->head_queued) {
      call_safely(done, false);
      return;
    }
    std::string problem = check_response_head(head);
    if (!problem.empty()) {
      core::log_error("http: refused an invalid response head: ", problem);
      self->fail_request(ex, 500, "Internal Server Error");
      call_safely(done, false);
      return;
    }
    self->queue_head(*ex, head);
    self->queue_file(*ex, std::move(file), std::move(done));
    if (ex->request_timer) ex->request_timer->cancel();
    self->flush();
  });
}

// Queues the file as the rest of the body, framed like frame_body() frames bytes, and marks
// the response finished. `done` rides on the last queued piece.
void Connection::queue_file(ExchangeState& ex, std::shared_ptr<FileSegment> file,
                            SendCallback done) {
  using Framing = ExchangeState::Framing;
  std::uint64_t length = file ? file->remaining : 0;
  switch (ex.framing) {
    case Framing::none:
      ex.out.push_back({"", std::move(done), nullptr});
      break;
    case Framing::fixed:
      if (length > ex.remaining) length = ex.remaining;
      ex.remaining -= length;
      ex.body_bytes += length;
      if (ex.remaining > 0) ex.close_after = true;  // shorter than its Content-Length
      file->remaining = length;
      ex.out.push_back({"", nullptr, length ? std::move(file) : nullptr});
      ex.out.push_back({"", std::move(done), nullptr});
      break;
    case Framing::chunked: {
      ex.body_bytes += length;
      char size[24];
      int n = std::snprintf(size, sizeof size, "%llx\r\n", static_cast<unsigned long long>(length));
      if (length) {
        ex.out.push_back({std::string(size, static_cast<std::size_t>(n)), nullptr, std::move(file)});
        ex.out.push_back({"\r\n0\r\n\r\n", std::move(done), nullptr});
      } else {
        ex.out.push_back({"0\r\n\r\n", std::move(done), nullptr});
      }
      break;
    }
    case Framing::until_close:
      ex.body_bytes += length;
      ex.out.push_back({"", nullptr, length ? std::move(file) : nullptr});
      ex.out.push_back({"", std::move(done), nullptr});
      break;
  }
  ex.finished = true;
}

void Connection::queue_head(ExchangeState& ex, const ResponseHead& head) {
  ex.head_queued = true;
  ex.status = head.status;
  if (ex.request_timer) ex.request_timer->cancel();
  bool no_body = ex.head_request || status_has_no_body(head.status);
  // When no more requests will be read, the last exchange in flight closes the connection;
  // the ones before it still answer (their applications ran: dropping a response would lose
  // what the client is owed).
  bool last = exchanges_.empty() || exchanges_.back().get() == &ex;
  bool close = !ex.keep_alive || (last && (!accepting_requests_ || read_eof_));
  // The client may still hold its body back, waiting for a 100 Continue that never came.
  if (ex.head.expects_continue && !ex.continue_sent && !ex.body_done) close = true;
  std::optional<std::uint64_t> declared;
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(head.status);
  out += ' ';
  out += head.reason;
  out += "\r\n";
  bool has_date = false;
  for (const Header& header : head.headers) {
    // Framing and the connection are the server's business (PEP 3333: hop-by-hop headers).
    if (header_is(header, "Transfer-Encoding") || header_is(header, "Keep-Alive")) continue;
    if (header_is(header, "Connection")) {
      if (list_contains(header.value, "close")) close = true;
      continue;
    }
    if (header_is(header, "Content-Length")) {
      declared = parse_length(header.value);
      if (!declared) continue;  // not a number: framed as if absent
    }
    if (header_is(header, "Date")) has_date = true;
    out += header.name;
    out += ": ";
    out += header.value;
    out += "\r\n";
  }
  if (!has_date) {
    out += "Date: ";
    out += http_date_now();
    out += "\r\n";
  }
  if (no_body) {
    ex.framing = ExchangeState::Framing::none;
  } else if (declared) {
    ex.framing = ExchangeState::Framing::fixed;
    ex.remaining = *declared;
  } else if (ex.head.version == 11) {
    ex.framing = ExchangeState::Framing::chunked;
    out += "Transfer-Encoding: chunked\r\n";
  } else {
    ex.framing = ExchangeState::Framing::until_close;
    close = true;
  }
  if (close) {
    out += "Connection: close\r\n";
  } else if (ex.head.version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  ex.close_after = close;
  if (close) accepting_requests_ = false;
  ex.out.push_back({std::move(out), nullptr});
}

std::string Connection::frame_body(ExchangeState& ex, std::string body, bool last) {
  using Framing = ExchangeState::Framing;
  std::string out;
  switch (ex.framing) {
    case Framing::none:
      break;
    case Framing::fixed:
      if (body.size() > ex.remaining) {
        core::log_warning("http: the response to ", ex.head.method, " ", ex.head.target,
                          " is longer than its Content-Length; the rest was dropped");
        body.resize(ex.remaining);
      }
      ex.remaining -= body.size();
      ex.body_bytes += body.size();
      out = std::move(body);
      if (last && ex.remaining > 0) {
        core::log_warning("http: the response to ", ex.head.method, " ", ex.head.target,
                          " ended ", ex.remaining, " bytes short of its Content-Length; "
                          "closing the connection");
        ex.close_after = true;
      }
      break;
    case Framing::chunked:
      ex.body_bytes += body.size();
      if (!body.empty()) {
        char size[24];
        int n = std::snprintf(size, sizeof size, "%zx\r\n", body.size());
        out.reserve(body.size() + static_cast<std::size_t>(n) + 7);
        out.append(size, static_cast<std::size_t>(n));
        out += body;
        out += "\r\n";
      }
      if (last) out += "0\r\n\r\n";
      break;
    case Framing::until_close:
      ex.body_bytes += body.size();
      out = std::move(body);
      break;
  }
  return out;
}

void Connection::fail_body(ExchangeState& ex, const std::string& error) {
  if (ex.body_error.empty()) ex.body_error = error;
  BodyCallback waiter = std::move(ex.body_waiter);
  ex.body_waiter = nullptr;
  call_safely(waiter, BodyRead{"", false, error});
}

void Connection::fail_request(const std::shared_ptr<ExchangeState>& ex, int status,
                              const std::string& reason, std::string_view why) {
  if (closed_ || ex->finished) return;
  if (ex->head_queued) {
    close_now();  // the head is out: a cut-off response must not look complete
    return;
  }
  accepting_requests_ = false;
  ex->failed = true;
  std::string body = reason;
  if (!why.empty()) body.append(": ").append(why);
  body += "\n";
  ResponseHead head{status, reason,
                    {{"Content-Type", "text/plain; charset=utf-8"},
                     {"Content-Length", std::to_string(body.size())}}};
  queue_head(*ex, head);
  ex->out.push_back({frame_body(*ex, std::move(body), true), nullptr});
  ex->finished = true;
  if (!ex->body_done) fail_body(*ex, "the request failed: " + std::to_string(status) + " " + reason);
  flush();
}

void Connection::abort(std::shared_ptr<ExchangeState> ex) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), ex = std::move(ex)] {
    if (!ex->finished) self->close_now();
  });
}

void Connection::released(std::shared_ptr<ExchangeState> ex) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), ex = std::move(ex)] {
    if (ex->finished || self->closed_) return;
    if (ex->head_queued) {
      self->close_now();
    } else {
      core::log_error("http: the handler of ", ex->head.method, " ", ex->head.target,
                      " ended without a response");
      self->fail_request(ex, 500, "Internal Server Error");
    }
  });
}

void Connection::serve_static(const std::shared_ptr<ExchangeState>& ex,
                              const StaticMount& mount) {
  StaticResponse response = answer_static(mount, ex->head);
  queue_head(*ex, response.head);
  if (response.file) {
    queue_file(*ex, std::move(response.file), nullptr);
  } else {
    ex->out.push_back({frame_body(*ex, std::move(response.body), true), nullptr, nullptr});
    ex->finished = true;
  }
  flush();
}

void Connection::flush() {
  if (writing_ || closed_ || exchanges_.empty()) return;
  std::shared_ptr<ExchangeState> ex = exchanges_.front();
  if (ex->out.empty()) {
    if (ex->finished) complete_front();
    return;
  }
  writing_ = true;
  // Everything queued, up to and including the first file (which goes out by sendfile).
  std::size_t take = 0;
  std::shared_ptr<FileSegment> file;
  while (take < ex->out.size() && !file) file = ex->out[take++].file;
  write_batch_.assign(std::make_move_iterator(ex->out.begin()),
                      std::make_move_iterator(ex->out.begin() + static_cast<long>(take)));
  ex->out.erase(ex->out.begin(), ex->out.begin() + static_cast<long>(take));
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(write_batch_.size());
  for (const auto& pending : write_batch_) {
    if (!pending.bytes.empty()) buffers.emplace_back(asio::buffer(pending.bytes));
  }
  arm_write_timer();
  asio::async_write(socket_, buffers,
                    [self = shared_from_this(), ex, file](const boost::system::error_code& ec,
                                                          std::size_t) {
                      if (ec || !file) {
                        self->on_written(ex, ec);
                      } else {
                        self->send_file(ex, file);
                      }
                    });
}

void Connection::arm_write_timer() {
  write_timer_.expires_after(seconds(server_->options.idle_timeout_s));
  write_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || !self->writing_) return;
    core::log_info("http: closing a connection whose client stopped reading the response");
    self->close_now();
  });
}

// sendfile(2) until the segment is out, waiting for the socket whenever it is full. Each step
// that makes progress restarts the idle timer.
void Connection::send_file(const std::shared_ptr<ExchangeState>& ex,
                           std::shared_ptr<FileSegment> file) {
  if (closed_) {
    on_written(ex, asio::error::operation_aborted);
    return;
  }
  boost::system::error_code ec;
  socket_.native_non_blocking(true, ec);
  while (!ec && file->remaining > 0) {
    off_t offset = static_cast<off_t>(file->offset);
    std::size_t step = file->remaining < (1u << 20) ? file->remaining : (1u << 20);
    ssize_t sent = ::sendfile(socket_.native_handle(), file->fd, &offset, step);
    if (sent > 0) {
      file->offset = offset;
      file->remaining -= static_cast<std::uint64_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      arm_write_timer();
      socket_.async_wait(asio::socket_base::wait_write,
                         [self = shared_from_this(), ex, file](const boost::system::error_code& e) {
                           if (e) {
                             self->on_written(ex, e);
                          } else {
                             self->send_file(ex, file);
                           }
                         });
      return;
    }
    // An error, or the file shrank under us: the response cannot be completed.
    ec = sent < 0 ? boost::system::error_code(errno, boost::system::system_category())
                  : asio::error::eof;
  }
  on_written(ex, ec);
}

void Connection::on_written(const std::shared_ptr<ExchangeState>& ex,
                            const boost::system::error_code& ec) {
  writing_ = false;
  write_timer_.cancel();
  std::vector<ExchangeState::Pending> batch = std::move(write_batch_);
  write_batch_.clear();
  for (auto& pending : batch) call_safely(pending.done, !ec);
  if (ec) {
    close_now();
    return;
  }
  if (closed_) return;
  if (!exchanges_.empty() && exchanges_.front() == ex && ex->finished && ex->out.empty()) {
    complete_front();
  } else {
    flush();
  }
}

void Connection::complete_front() {
  std::shared_ptr<ExchangeState> ex = exchanges_.front();
  exchanges_.pop_front();
  if (server_->options.access_log != AccessLogFormat::off) {
    AccessRecord record;
    record.request = &ex->head;
    record.status = ex->status;
    record.body_bytes = ex->body_bytes;
    record.duration_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - ex->started).count();
    for (const Header& header : ex->head.headers) {
      if (header_is(header, "User-Agent")) record.user_agent = header.value;
      if (header_is(header, "Referer")) record.referer = header.value;
    }
    write_access_line(format_access_line(server_->options.access_log, record));
  }
  if (ex->close_after) {
    close_gracefully();
    return;
  }
  if (reading_body_of_ == ex && !ex->body_waiter) ex->draining = true;
  flush();
  continue_reading();
}

// ---- timers and closing --------------------------------------------------------------------

void Connection::arm_read_timer(ReadTimer kind, double timeout_s) {
  read_timer_kind_ = kind;
  std::uint64_t generation = ++read_timer_generation_;
  read_timer_.expires_after(seconds(timeout_s));
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
    parser_.reset();
    fail_body(*ex, "timed out waiting for the request body (idle_timeout_s)");
    fail_request(ex, 408, "Request Timeout");
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
    parser_.reset();
  }
}

void Connection::arm_request_timer(const std::shared_ptr<ExchangeState>& ex) {
  ex->request_timer.emplace(socket_.get_executor(), seconds(server_->options.request_timeout_s));
  std::weak_ptr<ExchangeState> weak = ex;
  ex->request_timer->async_wait(
      [self = shared_from_this(), weak](const boost::system::error_code& ec) {
        auto ex = weak.lock();
        if (ec || !ex || ex->head_queued || self->closed_) return;
        core::log_warning("http: ", ex->head.method, " ", ex->head.target,
                          " did not start its response within request_timeout_s");
        if (ex->body_waiter) {
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
  buffer_.consume(buffer_.size());
  if (read_eof_) {
    close_now();
    return;
  }
  linger_read();
}

void Connection::linger_read() {
  if (socket_read_pending_) return;
  socket_read_pending_ = true;
  socket_.async_read_some(buffer_.prepare(kReadChunk),
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
  parser_.reset();
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
