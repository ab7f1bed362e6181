// One Redis connection (TCP or unix socket) driven by Asio on the IO threads' io_context.
//
// Commands are pipelined: execute() may be called from any thread, any number of times without
// waiting; each appends the formatted command to the outgoing buffer and its callback to a FIFO.
// Everything queued while a write is in flight goes out in the next single write, and replies
// are matched to callbacks in order. Callbacks run on an IO thread (the connection's strand),
// exactly once, and must not throw (an escaping exception is logged and swallowed).
//
// A command without a reply within its timeout fails with Error::timeout and closes the
// connection: what the server is doing is unknown, and later replies could no longer be matched.
// When the connection closes or breaks, every command in flight fails with connection_lost
// (closed after close()), once. Dropping the last reference to a connection closes it (and
// fails its commands in flight with Error::closed).
#pragma once

#include <atomic>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/error.h"
#include "redis/reply.h"
#include "redis/url.h"

namespace puff::redis {

namespace detail {
class ReplyReader;
struct TlsLayer;
}

// Counted by connections, shared by a pool's connections so that totals survive reconnects.
struct Counters {
  std::atomic<std::uint64_t> commands{0};  // commands queued for sending
  std::atomic<std::uint64_t> writes{0};    // socket writes (one per batch of pipelined commands)
};

struct ConnectionOptions {
  Url url;
  double connect_timeout_s = 5.0;  // resolve + connect + AUTH/SELECT/PING
  double command_timeout_s = 5.0;  // default per command; 0 = none
  // Starts every error message: "Redis at 127.0.0.1:6379" when empty.
  std::string label;
  std::shared_ptr<Counters> counters;  // null: the connection keeps its own
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using ConnectCallback = std::function<void(std::optional<Error>)>;
  using ReplyCallback = std::function<void(std::optional<Error>, Reply)>;
  // A batch's replies in command order; with an error, the replies that came before it
  // (the others are nil).
  using BatchCallback = std::function<void(std::optional<Error>, std::vector<Reply>)>;
  using Command = std::vector<std::string_view>;
  // Called once, on the strand, when an open connection closes for any reason.
  using CloseHandler = std::function<void(const Error&)>;

  static constexpr double kDefaultTimeout = -1;

  static std::shared_ptr<Connection> create(boost::asio::io_context& io,
                                            ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects, then AUTHs (when the URL has a password), SELECTs (db != 0) and PINGs, pipelined.
  // Any thread, once (UsageError otherwise). `done` gets connect_failed (unreachable, refused,
  // an error reply to the handshake, a hang-up during it), timeout (connect_timeout) or closed.
  // `handler` (may be empty) is installed first.
  void connect(ConnectCallback done, CloseHandler handler = {});

  // Any thread. Queues one command (args binary-safe, args[0] the name; UsageError when empty).
  // `timeout_s`: kDefaultTimeout uses command_timeout, 0 waits forever (a blocking command's
  // own timeout), > 0 overrides. Before connect() succeeded or after the connection closed,
  // `done` gets Error::closed (on an IO thread).
  void execute(const std::vector<std::string_view>& args, ReplyCallback done,
               double timeout_s = kDefaultTimeout);
  // As execute(), but returns false and leaves `done` untouched when the connection is not
  // open (the pool then tries another one).
  bool try_execute(const std::vector<std::string_view>& args, ReplyCallback& done,
                   double timeout_s = kDefaultTimeout);

  // Queues `commands` back to back: no other caller's command comes between them, so
  // MULTI ... EXEC sent as one batch is a transaction even on a shared connection. `done` runs
  // once, after the last reply. Same rules as execute() otherwise (UsageError for an empty
  // batch or command).
  void execute_batch(const std::vector<Command>& commands, BatchCallback done,
                     double timeout_s = kDefaultTimeout);
  bool try_execute_batch(const std::vector<Command>& commands, BatchCallback& done,
                         double timeout_s = kDefaultTimeout);

  // Any thread. Commands in flight fail with Error::closed and the close handler runs; a
  // connect() under way answers Error::closed.
  void close();

  bool is_open() const { return state_.load() == State::open; }
  std::size_t in_flight() const;  // commands sent or queued, reply not yet received
  // Commands queued that no write has taken yet: a command added now leaves with them.
  bool has_unsent() const;
  // Whether a dedicated connection can be lent to someone else: open, nothing in flight, and
  // no MULTI, WATCH or session change (SELECT, SUBSCRIBE, CLIENT REPLY, ...) left behind.
  bool reusable() const;
  const std::string& where() const { return where_; }
  const std::string& label() const { return label_; }
  const Counters& counters() const { return *counters_; }

 private:
  enum class State { idle, connecting, open, closed };
  struct Pending {
    ReplyCallback done;
    std::chrono::steady_clock::time_point deadline;  // max(): none
    std::string name;  // the command's name, for the timeout message
    double limit_s;    // its timeout
  };

  Connection(boost::asio::io_context& io, ConnectionOptions options);

  void start_connect();
  void try_endpoint(std::shared_ptr<std::vector<boost::asio::generic::stream_protocol::endpoint>>
                        endpoints,
                    std::size_t index);
  void on_socket_connected();
  void start_tls();          // rediss://: the TLS handshake, then on_transport_ready()
  void on_transport_ready();  // AUTH, SELECT, PING
  void close_socket();        // the plain socket, or the TLS layer's
  void on_handshake_reply(const Reply& reply, const std::string& step, bool last);
  void fail_connect(Error error);
  // false (and `done` untouched) once the connection stopped accepting commands.
  bool enqueue(const std::vector<std::string_view>& args, ReplyCallback& done, double timeout_s);
  // Under mutex_: formats one command into the outgoing buffer and queues its callback.
  void append_locked(const std::vector<std::string_view>& args, ReplyCallback done,
                     std::chrono::steady_clock::time_point deadline, double limit_s);
  // Under mutex_: whether a write must be posted (none is scheduled yet).
  bool schedule_write_locked();
  void hand_off_write();  // starts the write now, or when the hub's turn ends
  std::chrono::steady_clock::time_point deadline_for(double timeout_s, double* limit_s) const;
  void track_session(const std::vector<std::string_view>& args);
  void start_write();
  void start_read();
  void on_read(std::size_t size);
  void arm_timer(std::chrono::steady_clock::time_point at);
  void on_timer();
  // Closes the socket, runs the close handler (once, if the connection was open) and fails
  // every command in flight with `error`.
  void shut_down(const Error& error);
  void fail_lost(const char* what, const boost::system::error_code& ec);  // a socket error
  Error error_for(Error::Kind kind, const std::string& what) const;

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const ConnectionOptions options_;
  const std::string where_;
  const std::string label_;
  std::shared_ptr<Counters> counters_;

  // Strand only.
  boost::asio::generic::stream_protocol::socket socket_;  // moved into tls_ for rediss://
  // Shared with the TLS operations in flight: their handlers keep the stream alive after the
  // connection is gone (Asio's ssl::stream must outlive its operations).
  std::shared_ptr<detail::TlsLayer> tls_;
  bool tls_handshaking_ = false;  // strand only: names a connect timeout during the handshake
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer command_timer_;
  std::chrono::steady_clock::time_point timer_at_ = std::chrono::steady_clock::time_point::max();
  std::unique_ptr<detail::ReplyReader> reader_;
  std::vector<char> read_buffer_;
  std::string write_buffer_;  // the batch being written
  ConnectCallback on_connect_;
  CloseHandler on_close_;
  std::optional<Error> handshake_error_;

  std::atomic<State> state_{State::idle};
  mutable std::mutex mutex_;  // guards the members below
  std::string outgoing_;      // queued, not yet handed to a write
  std::deque<Pending> pending_;
  bool write_scheduled_ = false;  // a start_write is posted or a write is in flight
  std::chrono::steady_clock::time_point earliest_new_deadline_ =
      std::chrono::steady_clock::time_point::max();
  bool accepting_ = false;        // from the socket's connect (handshake) until shut_down
  bool in_multi_ = false;
  bool watching_ = false;
  bool session_changed_ = false;
};

}  // namespace puff::redis
