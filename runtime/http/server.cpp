#include "http/server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <vector>

#include "core/log.h"
#include "http/detail/server_state.h"
#include "http/listener.h"

namespace puff::http {
namespace {

namespace asio = boost::asio;
using GenericEndpoint = asio::generic::stream_protocol::endpoint;

// How soon a worker that leaves new connections to less loaded ones (AcceptBalance) looks
// again: soon at first, as in a burst the others soon get ahead and leave connections to it
// (256 at once are shared out in tens of ms), then less and less often while it stays ahead.
constexpr std::chrono::microseconds kBalanceFirstRecheck{250};
constexpr std::chrono::microseconds kBalanceMaxRecheck{20'000};

// Numeric host and port of a socket address; false for anything but IPv4/IPv6.
bool numeric_address(const GenericEndpoint& endpoint, std::string* host, int* port) {
  char host_text[NI_MAXHOST];
  char port_text[NI_MAXSERV];
  if (endpoint.data()->sa_family != AF_INET && endpoint.data()->sa_family != AF_INET6) {
    return false;
  }
  if (::getnameinfo(endpoint.data(), static_cast<socklen_t>(endpoint.size()), host_text,
                    sizeof host_text, port_text, sizeof port_text,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  *host = host_text;
  *port = std::atoi(port_text);
  return true;
}

}  // namespace

namespace detail {

void ServerState::accept_next() {
  if (!acceptor.is_open()) return;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (connections.size() >= static_cast<std::size_t>(options.max_connections)) {
      accept_paused = true;  // connection_closed resumes
      return;
    }
    if (options.accept_balance &&
        !options.accept_balance->may_accept(options.balance_slot,
                                            static_cast<int>(connections.size()))) {
      wait_for_balance();
      return;
    }
  }
  balance_recheck = std::chrono::microseconds(0);
  acceptor.async_accept(
      asio::make_strand(io),
      [self = shared_from_this()](const boost::system::error_code& ec, Socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec && self->acceptor.is_open()) {
          // EMFILE and friends: say so and keep accepting (after a pause, so it does not spin).
          core::log_warning("http: accept failed: ", ec.message());
          auto timer = std::make_shared<asio::steady_timer>(self->acceptor.get_executor(),
                                                            std::chrono::milliseconds(100));
          timer->async_wait([self, timer](const boost::system::error_code&) {
            self->accept_next();
          });
          return;
        }
        // Accepted before the listener closed (a stop): still answered, as the backlog is.
        if (!ec) self->start_connection(std::move(socket));
        self->accept_next();
      });
}

void ServerState::wait_for_balance() {
  // Other workers are less loaded: they take what arrives meanwhile; look again soon.
  balance_recheck = balance_recheck.count() == 0
                        ? kBalanceFirstRecheck
                        : std::min(balance_recheck * 2, kBalanceMaxRecheck);
  auto timer = std::make_shared<asio::steady_timer>(acceptor.get_executor(), balance_recheck);
  timer->async_wait([self = shared_from_this(), timer](const boost::system::error_code&) {
    if (self->balance_recheck == kBalanceMaxRecheck) self->take_waiting(64);
    self->accept_next();
  });
}

// Left to the others for tens of ms, connections still waiting are taken after all: a worker
// that is stuck (or stopped in a debugger) must not hold up new connections for long.
void ServerState::take_waiting(int at_most, bool during_shutdown) {
  if (!acceptor.is_open()) return;
  boost::system::error_code ec;
  acceptor.non_blocking(true, ec);
  for (int taken = 0; !ec && taken < at_most; ++taken) {
    if (!during_shutdown) {  // the last time, past max_connections
      std::lock_guard<std::mutex> lock(mutex);
      if (connections.size() >= static_cast<std::size_t>(options.max_connections)) return;
    }
    Socket socket(asio::make_strand(io));
    acceptor.accept(socket, ec);
    if (!ec) start_connection(std::move(socket));
  }
}

void ServerState::start_connection(Socket socket) {
  Peer peer;
  boost::system::error_code ignored;
  GenericEndpoint remote = socket.remote_endpoint(ignored);
  GenericEndpoint local = socket.local_endpoint(ignored);
  if (numeric_address(remote, &peer.remote_addr, &peer.remote_port)) {
    numeric_address(local, &peer.local_addr, &peer.local_port);
    int one = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  } else {
    peer.unix_socket = true;
  }
  std::uint64_t id = next_connection_id.fetch_add(1);
  bool stopping;
  auto connection = std::make_shared<Connection>(std::move(socket), shared_from_this(),
                                                 std::move(peer), id);
  {
    std::lock_guard<std::mutex> lock(mutex);
    // During the shutdown, connections are still taken (the kernel accepted them), each to
    // answer one request.
    if (closing_all) return;  // closes with `connection`
    stopping = shutting_down;
    connections.emplace(id, connection);
    publish_open_locked();
  }
  connections_total.fetch_add(1, std::memory_order_relaxed);
  connection->start();
  if (stopping) connection->begin_shutdown();
}

void ServerState::publish_open_locked() {
  if (options.accept_balance) {
    options.accept_balance->publish(options.balance_slot, static_cast<int>(connections.size()));
  }
}

// Server::shutdown already marked the server and its connections; this takes the backlog's
// connections (accepted by the kernel: their clients may have sent a request that closing the
// listener would reset), each to answer one request, then closes the listener.
void ServerState::shut_down(std::function<void()> when_drained) {
  // First no new ones: then the backlog taken below is all there is. (Workers share their
  // supervisor's socket: it does this on a stop, and not on a reload.)
  if (owns_listener && acceptor.is_open()) {
    stop_new_connections(acceptor.native_handle());
    unix_path.clear();  // removed
  }
  take_waiting(options.backlog, /*during_shutdown=*/true);  // no-op once closed
  close_listener();
  bool empty;
  {
    std::lock_guard<std::mutex> lock(mutex);
    empty = connections.empty();
    if (!empty) drained = std::move(when_drained);
  }
  if (empty && when_drained) when_drained();
}

void ServerState::close_listener() {
  if (options.accept_balance) options.accept_balance->leave(options.balance_slot);
  {
    std::lock_guard<std::mutex> lock(mutex);
    listening = false;
  }
  boost::system::error_code ignored;
  acceptor.close(ignored);
  if (!unix_path.empty()) {
    ::unlink(unix_path.c_str());
    unix_path.clear();
  }
}

void ServerState::connection_closed(std::uint64_t id) {
  std::function<void()> done;
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    connections.erase(id);
    if (!shutting_down) publish_open_locked();
    if (shutting_down && connections.empty() && drained) {
      done = std::move(drained);
      drained = nullptr;
    }
    if (!done && accept_paused && !shutting_down) {
      accept_paused = false;
      resume = true;
    }
  }
  if (resume) {
    asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->accept_next(); });
  }
  if (done) done();
}

}  // namespace detail

Server::Server(asio::io_context& io, ServerOptions options, Handler handler)
    : state_(std::make_shared<detail::ServerState>(io, std::move(options), std::move(handler))) {}

Server::~Server() { close_all(); }

std::string Server::start() {
  auto& state = *state_;
  int fd = state.options.listen_fd;
  bool owned = fd < 0;
  if (owned) {
    std::string problem = open_listener(state.options.bind, state.options.backlog, &fd);
    if (!problem.empty()) return problem;
  }
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  int family = address.ss_family;
  boost::system::error_code ec;
  state.acceptor.assign(asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP),
                        fd, ec);
  if (ec) {
    if (owned) ::close(fd);
    return "cannot listen on " + state.options.bind + ": " + ec.message();
  }
  state.address = listener_address(fd);
  // The listener's owner removes a unix socket's file (a worker's supervisor does it).
  state.owns_listener = owned;
  if (owned) state.unix_path = listener_unix_path(fd);
  if (state.options.accept_balance) {
    state.options.accept_balance->publish(state.options.balance_slot, 0);
  }
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.listening = true;
  }
  asio::dispatch(state.acceptor.get_executor(), [s = state_] { s->accept_next(); });
  return "";
}

std::string Server::address() const { return state_->address; }

void Server::shutdown(std::function<void()> drained) {
  // Marked at once, so that responses from now on say `Connection: close`.
  std::vector<std::shared_ptr<detail::Connection>> open;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->shutting_down = true;
    for (auto& [id, weak] : state_->connections) {
      if (auto connection = weak.lock()) open.push_back(connection);
    }
  }
  for (auto& connection : open) connection->begin_shutdown();
  asio::dispatch(state_->acceptor.get_executor(),
                 [s = state_, drained = std::move(drained)]() mutable {
                   s->shut_down(std::move(drained));
                 });
}

void Server::close_all() {
  std::vector<std::shared_ptr<detail::Connection>> open;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->shutting_down = true;
    state_->closing_all = true;
    for (auto& [id, weak] : state_->connections) {
      if (auto connection = weak.lock()) open.push_back(connection);
    }
  }
  asio::dispatch(state_->acceptor.get_executor(), [s = state_] { s->close_listener(); });
  for (auto& connection : open) connection->close_now_async();
}

ServerStats Server::stats() const {
  ServerStats stats;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    stats.connections_open = state_->connections.size();
    stats.listening = state_->listening;
  }
  stats.connections_total = state_->connections_total.load();
  stats.requests_total = state_->requests_total.load();
  return stats;
}

}  // namespace puff::http
