// One accepted connection: parses requests (Beast's parser, fed by our own reads so that
// timeouts and backpressure are ours), hands each to the handler as an Exchange, and writes
// responses strictly in request order. Everything runs on the connection's strand.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.h"
#include "http/request_rules.h"
#include "http/static_files.h"
#include "http/types.h"

namespace puff::http::detail {

struct ServerState;

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using Socket = boost::asio::basic_stream_socket<boost::asio::generic::stream_protocol, Strand>;

// The connection's view of one exchange. Strand-only, except `head` (immutable once handed out).
struct ExchangeState {
  RequestHead head;
  std::chrono::steady_clock::time_point started;
  bool keep_alive = true;
  bool head_request = false;

  // Request body.
  bool body_done = false;
  std::string body_error;
  BodyCallback body_waiter;
  std::size_t body_max = 0;
  bool continue_sent = false;
  bool draining = false;  // the response is out; the rest of the body is read and dropped
  std::uint64_t drained = 0;

  // Response.
  enum class Framing { none, fixed, chunked, until_close };
  bool head_queued = false;
  bool finished = false;  // the last byte is queued
  bool failed = false;    // answered by the server itself (timeout, bad body): sends fail
  bool close_after = false;
  Framing framing = Framing::none;
  std::uint64_t remaining = 0;  // Framing::fixed
  int status = 0;
  std::uint64_t body_bytes = 0;
  struct Pending {
    std::string bytes;
    SendCallback done;
    std::shared_ptr<FileSegment> file;  // sent with sendfile(2) after `bytes`
  };
  std::vector<Pending> out;
  std::optional<boost::asio::steady_timer> request_timer;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Socket socket, std::shared_ptr<ServerState> server, Peer peer, std::uint64_t id);
  ~Connection();

  void start();
  // Any thread: read no further requests; close once the responses in flight are written.
  void begin_shutdown();
  // Any thread: close now; everything pending fails.
  void close_now_async();

  // From Exchange (any thread).
  void read_body(std::shared_ptr<ExchangeState> ex, std::size_t max, BodyCallback done);
  void send(std::shared_ptr<ExchangeState> ex, std::optional<ResponseHead> head, std::string body,
            bool last, SendCallback done);
  void send_file(std::shared_ptr<ExchangeState> ex, ResponseHead head,
                 std::shared_ptr<FileSegment> file, SendCallback done);
  void abort(std::shared_ptr<ExchangeState> ex);
  void released(std::shared_ptr<ExchangeState> ex);
  // Any thread: the client closed or reset its side, or the connection is closed.
  bool client_gone() const { return client_gone_.load(std::memory_order_relaxed); }

 private:
  enum class ReadTimer { none, keepalive, header, body };

  void continue_reading();
  void parse_head();
  void dispatch_head();
  void reject_head(const HeadVerdict& verdict);
  void pump_body();
  void read_socket();
  void read_now();
  void on_read(const boost::system::error_code& ec, std::size_t n);

  void do_send(const std::shared_ptr<ExchangeState>& ex, std::optional<ResponseHead> head,
               std::string body, bool last, SendCallback done);
  void queue_head(ExchangeState& ex, const ResponseHead& head);
  void queue_file(ExchangeState& ex, std::shared_ptr<FileSegment> file, SendCallback done);
  std::string frame_body(ExchangeState& ex, std::string body, bool last);
  void fail_request(const std::shared_ptr<ExchangeState>& ex, int status,
                    const std::string& reason, std::string_view why = {});
  void fail_body(ExchangeState& ex, const std::string& error);
  void serve_static(const std::shared_ptr<ExchangeState>& ex, const StaticMount& mount);
  void flush();
  void arm_write_timer();
  void send_file(const std::shared_ptr<ExchangeState>& ex, std::shared_ptr<FileSegment> file);
  void on_written(const std::shared_ptr<ExchangeState>& ex, const boost::system::error_code& ec);
  void complete_front();

  void arm_read_timer(ReadTimer kind, double seconds);
  void cancel_read_timer();
  void on_read_timeout(ReadTimer kind);
  void arm_request_timer(const std::shared_ptr<ExchangeState>& ex);
  void close_gracefully();
  void linger_read();
  void close_now();

  Socket socket_;
  std::shared_ptr<ServerState> server_;
  Peer peer_;
  std::uint64_t id_;

  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>> parser_;
  std::optional<HeadScanner> head_scanner_;  // with parser_, while its head arrives
  bool head_started_ = false;  // bytes of the next head have arrived (the header timer runs)
  bool first_request_ = true;
  std::shared_ptr<ExchangeState> reading_body_of_;
  bool socket_read_pending_ = false;
  bool read_eof_ = false;
  std::atomic<bool> client_gone_{false};  // read_eof_ or closed_, for other threads
  bool accepting_requests_ = true;
  bool stop_after_next_ = false;  // shutting down: answer the request arriving, then close
  std::deque<std::shared_ptr<ExchangeState>> exchanges_;  // front: the response being written

  bool writing_ = false;
  std::vector<ExchangeState::Pending> write_batch_;
  bool lingering_ = false;
  bool closed_ = false;

  boost::asio::steady_timer read_timer_;
  ReadTimer read_timer_kind_ = ReadTimer::none;
  std::uint64_t read_timer_generation_ = 0;
  boost::asio::steady_timer write_timer_;
};

}  // namespace puff::http::detail
