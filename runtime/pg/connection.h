// One libpq connection driven without blocking on the IO threads' io_context.
//
// All libpq calls for a connection run on its strand, so operations never race each other;
// one operation (connect or query) is in flight at a time. Callbacks run on an IO thread (on
// the strand), exactly once per operation, and must not throw (an escaping exception is logged
// and swallowed). Getters other than drain_notices() and cancel() read state that only changes
// while an operation is in flight: call them between operations (e.g. from the callback).
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/error.h"
#include "pg/result.h"

namespace puff::pg {

struct ConnectOptions {
  std::string conninfo;            // a postgres[ql]:// URI or a libpq key=value string
  double connect_timeout_s = 10.0;  // enforced by us (libpq's own applies to blocking connects)
  double statement_timeout_s = 0.0;  // > 0: sent at startup as "-c statement_timeout=<ms>"
  std::string application_name;    // "" keeps the conninfo's (fallback: "puff")
};

// A NOTICE/WARNING/INFO message the server sent during an operation.
struct Notice {
  std::string severity;  // "NOTICE", "WARNING", ... (not localized)
  std::string sqlstate;
  std::string message;   // primary message, one line
  std::string text;      // libpq's full text, "NOTICE:  ...\n" (what psycopg2 shows)
};

// A NOTIFY delivered to this session (it LISTENs on `channel`).
struct Notification {
  int pid = 0;  // the notifying backend
  std::string channel;
  std::string payload;
};

// What a query produced: every PGresult of the (possibly multi-statement) text, in order, and
// the first error. With an error, `results` holds those that came before it.
struct QueryOutcome {
  std::optional<Error> error;
  std::vector<Result> results;
};

// One step of a copy() operation: what happened, and what the caller does next.
struct CopyStep {
  enum class Kind {
    copy_in,   // COPY FROM STDIN waits for data: copy_in_put(), copy_in_end() or copy_abort()
    copy_out,  // COPY TO STDOUT sent `data`: copy_out_next() or copy_abort()
    done,      // the text ran to its end: `outcome` as execute() reports it
  };
  Kind kind = Kind::done;
  // copy_out: whole CopyData messages (one row each in text and CSV format), about
  // kCopyBatchBytes at most: the caller writes them out before asking for more, so memory stays
  // bounded whatever the size of the table.
  std::string data;
  QueryOutcome outcome;  // done: every result (a COPY's is "COPY n") and the first error
};

// What libpq says about an established session (PQhost, PQport, ...), captured at connect.
struct SessionInfo {
  std::string host;  // host name, address or socket directory
  std::string port;
  std::string dbname;
  std::string user;
  std::string password;
  std::string options;
  bool ssl_in_use = false;
};

enum class TransactionStatus { idle, active, in_transaction, in_error, unknown };

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using ConnectCallback = std::function<void(std::optional<Error>)>;
  using QueryCallback = std::function<void(QueryOutcome)>;
  using CopyCallback = std::function<void(CopyStep)>;

  static constexpr std::size_t kCopyBatchBytes = 256 * 1024;

  static std::shared_ptr<Connection> create(boost::asio::io_context& io);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Any thread. Throws UsageError when an operation is already in flight.
  void connect(ConnectOptions options, ConnectCallback done);
  // Sends `sql` (may hold several statements; simple query protocol).
  void execute(std::string sql, QueryCallback done);
  // One statement with $1..$n parameters, sent as text (nullopt = NULL); types are inferred.
  void execute(std::string sql, std::vector<std::optional<std::string>> params,
               QueryCallback done);

  // Runs `sql` on the calling thread with libpq and poll(), no io_context: for a connection whose
  // io_context no other thread runs (plain python's dedicated sessions), it saves the reactor's
  // work and a wake-up per statement. `interrupted` is called after each 100 ms of waiting;
  // true closes the connection and the outcome's error is Error::closed. Not thread-safe with
  // the asynchronous operations: call it only between them. Throws UsageError when busy.
  QueryOutcome execute_inline(std::string sql, const std::function<bool()>& interrupted);

  // Asks the server to cancel the running statement (it then fails with SQLSTATE 57014).
  // Any thread; blocks for a round trip to the server, so keep it off the IO threads.
  // Returns false with a reason when the request could not be sent.
  bool cancel(std::string* why = nullptr);

  // Any thread. Closes the connection; an operation in flight completes with Error::closed.
  void close();

  // Notices captured since the last call (at most 1000 are kept, the oldest dropped). Any thread.
  std::vector<Notice> drain_notices();
  // Notifications received since the last call (at most 1000 kept, the oldest dropped). Any
  // thread. They are gathered at the end of every operation and by consume_input*().
  std::vector<Notification> drain_notifications();
  bool has_unasked() const;  // notices or notifications wait to be drained; any thread
  // Reads what the server sent unasked (NOTIFY, notices) without sending anything, as an
  // operation on the strand: done(nullopt), or the error that closed the connection.
  void consume_input(ConnectCallback done);
  // The same on the calling thread (execute_inline's rule: only for a connection whose
  // io_context nobody else runs). Never blocks. false when the connection turned out broken.
  bool consume_input_inline();
  // libpq's socket (-1 when closed), for callers that wait for readability themselves
  // (select() on a plain-python connection before consume_input_inline()).
  int socket_fd() const;

  // Runs `sql` (simple query protocol, like execute(sql)) and lets the caller drive any COPY
  // FROM STDIN / TO STDOUT in it, one step at a time. Each call here answers once with the next
  // CopyStep; the operation stays in flight (is_busy()) until a step is `done`, and a step only
  // allows the calls its kind names (others throw UsageError). execute() refuses COPY
  // (Error::copy_refused); copy() runs other statements exactly as execute() does.
  void copy(std::string sql, CopyCallback step);
  // COPY TO STDOUT: the next batch of data (copy_out), or what follows the COPY.
  void copy_out_next(CopyCallback step);
  // COPY FROM STDIN: sends `data` (any split of the input is fine); answers copy_in once the
  // socket took it, so the caller reads its next chunk while the server receives this one.
  void copy_in_put(std::string data, CopyCallback step);
  // COPY FROM STDIN: no more data; the server then reports the COPY's result or error.
  void copy_in_end(CopyCallback step);
  // Gives up the running COPY: COPY FROM STDIN fails with `reason` (the server answers 57014
  // "COPY from stdin failed: <reason>"), COPY TO STDOUT's remaining data is read and dropped.
  // Later COPYs of the same text go the same way; the answer is `done`.
  void copy_abort(std::string reason, CopyCallback step);

  bool is_open() const { return open_.load(); }   // connected and not broken or closed
  bool is_busy() const { return busy_.load(); }   // an operation is in flight
  TransactionStatus transaction_status() const { return tx_status_.load(); }
  int backend_pid() const { return backend_pid_; }
  int server_version() const { return server_version_; }  // 150018 for 15.18
  std::string parameter_status(const std::string& name) const;  // "" when unknown
  // What the server reported at connect for a parameter it reports (GUC_REPORT: TimeZone,
  // client_encoding, ...), "" for others. Fixed once connected: readable from any thread while
  // the connection is used elsewhere (a pool's sessions answer with it between leases).
  const std::string& connect_parameter(std::string_view name) const;
  const std::string& where() const { return where_; }  // "127.0.0.1:5432" or the socket dir
  const SessionInfo& session_info() const { return session_info_; }
  // Between operations: whether the server sent something or hung up although nothing was
  // asked. It does so when it shuts down or ends the session (pg_terminate_backend,
  // idle_session_timeout); a NOTIFY for a LISTEN also counts. A poll() of the socket, no IO.
  bool has_unrequested_input() const;

  // For tests and the pool: the io_context this connection lives on.
  boost::asio::io_context& io() const { return io_; }

 private:
  // copy_in: sending the caller's COPY data (or its end); copy_out: reading COPY data.
  enum class Phase { none, connecting, flushing, reading, copy_in, copy_out };
  // Which copy step call the caller may make now.
  enum class CopyTurn { none, copy_in, copy_out };
  struct Op;

  explicit Connection(boost::asio::io_context& io);

  void start_connect(ConnectOptions options);
  void poll_connect(PostgresPollingStatusType status);
  void on_connected();
  void start_query(std::string sql, std::optional<std::vector<std::optional<std::string>>> params);
  void flush_step();
  void read_step();
  void take_result(PGresult* result);
  void consume_input_step();     // the consume_input operation's one step
  void collect_notifications();  // PQnotifies into notifications_ (on the strand / inline)
  void begin_copy(ExecStatusType status);
  void start_copy_step(CopyTurn expected, const char* call,
                       std::function<void(CopyTurn claimed)> step, CopyCallback done);
  bool resume_copy(CopyCallback done);
  void copy_in_step();
  void copy_out_step();
  void hand_over_copy(CopyStep::Kind kind);
  void fail_copy_buffer();

  bool watch_socket();  // (re)dups libpq's socket into socket_; false when it has none
  void arm_wait(bool for_write);  // inline operations: records what to poll for instead
  void on_socket_ready();
  void finish(std::optional<Error> error);
  void fail_lost(const std::string& during);
  void close_now();
  void update_state();
  Error libpq_error(Error::Kind kind, const std::string& context) const;

  static void notice_receiver(void* self, const PGresult* result);

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  // A dup of libpq's socket, so that closing ours never closes libpq's (or a reused number).
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  boost::asio::steady_timer connect_timer_;
  PGconn* conn_ = nullptr;
  std::unique_ptr<Op> op_;
  Phase phase_ = Phase::none;
  unsigned wait_generation_ = 0;  // stale socket waits are ignored
  unsigned op_generation_ = 0;    // stale timers are ignored
  short inline_events_ = 0;       // execute_inline: POLLIN/POLLOUT asked by arm_wait, 0 = none
  bool inline_ = false;           // an execute_inline is running
  bool inline_fresh_query_ = false;  // execute_inline: the query's first flush is still to come

  std::atomic<bool> busy_{false};
  std::atomic<bool> open_{false};
  std::atomic<TransactionStatus> tx_status_{TransactionStatus::unknown};
  int backend_pid_ = 0;
  int server_version_ = 0;
  std::string where_;
  SessionInfo session_info_;
  std::vector<std::pair<std::string, std::string>> connect_parameters_;  // set in on_connected

  mutable std::mutex mutex_;  // guards cancel_, notices_, notifications_
  PGcancel* cancel_ = nullptr;
  std::deque<Notice> notices_;
  std::deque<Notification> notifications_;

  // Set while a copy() operation waits for the caller's next call; claimed by that call.
  std::atomic<CopyTurn> copy_turn_{CopyTurn::none};
};

}  // namespace puff::pg
