// The writing half of a Connection: responses queued per exchange, framed
// (response_framing.h), written strictly in request order, files by sendfile(2); the access
// log line when a response is complete. See connection.h.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <sys/sendfile.h>

#include <cerrno>

#include "core/durations.h"
#include "core/log.h"
#include "http/access_log.h"
#include "http/detail/call_safely.h"
#include "http/detail/connection.h"
#include "http/detail/response_framing.h"
#include "http/detail/server_state.h"
#include "http/response_head.h"

namespace puff::http::detail {

namespace asio = boost::asio;

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
  // Within the send buffer the handler goes on at once; beyond it, once the bytes are written:
  // a client that reads slowly slows the handler down, and its memory stays bounded. (Counted
  // as Exchange::send_would_wait() counts: the body's own bytes on top of those unsent.)
  bool buffered = !last && unsent_bytes_of(*ex) + body.size() <= Exchange::kSendBufferBytes;
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
  ex->out.push_back({std::move(framed), buffered ? nullptr : std::move(done)});
  flush();
  ex->unsent.store(unsent_bytes_of(*ex), std::memory_order_relaxed);
  if (buffered) call_safely(done, true);
}

std::uint64_t Connection::unsent_bytes_of(const ExchangeState& ex) const {
  std::uint64_t total = 0;
  for (const auto& pending : ex.out) total += pending.bytes.size();
  if (writing_ && !exchanges_.empty() && exchanges_.front().get() == &ex) {
    for (const auto& pending : write_batch_) total += pending.bytes.size();
  }
  return total;
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
    frame_file(*ex, std::move(file), std::move(done));
    if (ex->request_timer) ex->request_timer->cancel();
    self->flush();
  });
}

void Connection::queue_head(ExchangeState& ex, const ResponseHead& head) {
  ex.head_queued = true;
  ex.status = head.status;
  if (ex.request_timer) ex.request_timer->cancel();
  // When no more requests will be read, the last exchange in flight closes the connection;
  // the ones before it still answer (their applications ran: dropping a response would lose
  // what the client is owed).
  bool last = exchanges_.empty() || exchanges_.back().get() == &ex;
  bool close = !ex.keep_alive || (last && (!accepting_requests_ || read_eof_));
  if (frame_head(ex, head, close)) accepting_requests_ = false;
}

void Connection::fail_body(ExchangeState& ex, const std::string& error) {
  if (ex.body_error.empty()) ex.body_error = error;
  ex.body_in.store(true, std::memory_order_relaxed);
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
  ex->prebuffering = false;  // never handed to the handler
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
    frame_file(*ex, std::move(response.file), nullptr);
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
  write_timer_.expires_after(core::seconds(server_->options.idle_timeout_s));
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
  ex->unsent.store(unsent_bytes_of(*ex), std::memory_order_relaxed);
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

}  // namespace puff::http::detail
