// What the listener and its connections share; outlives the Server handle while connections do.
#pragma once

#include <atomic>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "http/detail/connection.h"
#include "http/exchange.h"
#include "http/options.h"

namespace puff::http::detail {

using Acceptor =
    boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol, Strand>;

struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(boost::asio::io_context& io_context, ServerOptions server_options, Handler h)
      : io(io_context), options(std::move(server_options)), handler(std::move(h)),
        acceptor(boost::asio::make_strand(io_context)) {}

  boost::asio::io_context& io;
  const ServerOptions options;
  const Handler handler;
  Acceptor acceptor;  // strand-only
  std::string address;
  std::string unix_path;  // removed when the listener closes
  bool owns_listener = false;  // opened by start() (else a supervisor's, shared)
  bool accept_paused = false;  // acceptor strand: at max_connections
  std::chrono::microseconds balance_recheck{0};  // acceptor strand: AcceptBalance backoff

  std::atomic<std::uint64_t> next_connection_id{1};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> requests_total{0};

  std::mutex mutex;  // guards the members below
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;
  bool shutting_down = false;
  bool closing_all = false;  // close_all(): no connection is taken any more
  std::function<void()> drained;
  bool listening = false;  // the acceptor is open (close_listener clears it)

  void accept_next();            // acceptor strand
  void wait_for_balance();       // acceptor strand, under mutex
  // Acceptor strand: accepts what waits in the backlog, up to `at_most` (during the shutdown,
  // past max_connections, each connection to answer one request).
  void take_waiting(int at_most, bool during_shutdown = false);
  void shut_down(std::function<void()> drained);  // acceptor strand, after Server::shutdown
  void start_connection(Socket socket);  // acceptor strand
  void publish_open_locked();    // under mutex: the open connections, for the other workers
  void close_listener();         // acceptor strand
  void connection_closed(std::uint64_t id);  // any thread
};

}  // namespace puff::http::detail
