// One accepted connection: reads requests (RequestReader, fed by our own socket reads so that
// timeouts and backpressure are ours), hands each to the handler as an Exchange, and writes
// responses strictly in request order. Everything runs on the connection's strand.
// connection.cpp: reading, timers and closing; connection_write.cpp: writing responses.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/body_pace.h"
#include "http/detail/exchange_state.h"
#include "http/exchange.h"
#include "http/request_reader.h"
#include "http/static_files.h"
#include "http/types.h"

namespace puff::http::detail {

struct ServerState;

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using Socket = boost::asio::basic_stream_socket<boost::asio::generic::stream_protocol, Strand>;

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
  void arm_idle_timer();  // waiting for the next request (header, keep-alive or stop grace)
  void dispatch_head(RequestReader::Head next);
  void reject_head(const RequestHead& parsed, const HeadVerdict& verdict);
  void hand_to_handler(const std::shared_ptr<ExchangeState>& ex);
  void queue_continue(ExchangeState& ex);
  void start_body_pace();
  void pump_body();
  std::size_t body_read_size(const ExchangeState& ex) const;
  void stop_waiting_for_body(std::chrono::steady_clock::time_point now);
  static BodyRead take_prebuffered(ExchangeState& ex, std::size_t max);
  void read_socket();
  void read_now();
  void on_read(const boost::system::error_code& ec, std::size_t n);

  void do_send(const std::shared_ptr<ExchangeState>& ex, std::optional<ResponseHead> head,
               std::string body, bool last, SendCallback done);
  void queue_head(ExchangeState& ex, const ResponseHead& head);
  void fail_request(const std::shared_ptr<ExchangeState>& ex, int status,
                    const std::string& reason, std::string_view why = {});
  void fail_body(ExchangeState& ex, const std::string& error);
  void serve_static(const std::shared_ptr<ExchangeState>& ex, const StaticMount& mount);
  void flush();
  std::uint64_t unsent_bytes_of(const ExchangeState& ex) const;
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

  RequestReader reader_;
  bool head_started_ = false;  // bytes of the next head have arrived (the header timer runs)
  bool first_request_ = true;
  std::shared_ptr<ExchangeState> reading_body_of_;
  std::optional<BodyPace> body_pace_;  // of reading_body_of_
  bool socket_read_pending_ = false;
  bool read_eof_ = false;
  std::atomic<bool> client_gone_{false};  // read_eof_ or closed_, for other threads
  bool accepting_requests_ = true;
  bool stop_after_next_ = false;  // shutting down: answer the next request, then close
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
