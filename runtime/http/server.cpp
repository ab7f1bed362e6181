#include "http/server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <vector>

#include "core/log.h"
#include "http/detail/server_state.h"

namespace puff::http {
namespace {

namespace asio = boost::asio;
using GenericEndpoint = asio::generic::stream_protocol::endpoint;

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

// "HOST:PORT" / "[V6]:PORT" into an endpoint (numeric hosts, or "localhost"/names resolved).
std::string tcp_endpoint_of(const std::string& bind, asio::ip::tcp::endpoint* out) {
  auto colon = bind.rfind(':');
  if (colon == std::string::npos) return "--bind " + bind + ": expected HOST:PORT or unix:PATH";
  std::string host = bind.substr(0, colon);
  std::string port = bind.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || !found) {
    return "cannot resolve --bind " + bind + ": " + gai_strerror(rc);
  }
  asio::ip::tcp::endpoint endpoint;
  endpoint.resize(found->ai_addrlen);
  std::memcpy(endpoint.data(), found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  *out = endpoint;
  return "";
}

// A stale socket file (nobody listening) is removed; a live one is an error.
std::string prepare_unix_path(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return "";
  if (!S_ISSOCK(info.st_mode)) return path + " exists and is not a socket";
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(probe);
  if (live) return "another server is listening on unix:" + path;
  ::unlink(path.c_str());
  return "";
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
  }
  acceptor.async_accept(
      asio::make_strand(io),
      [self = shared_from_this()](const boost::system::error_code& ec, Socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
        if (ec) {
          // EMFILE and friends: say so and keep accepting (after a pause, so it does not spin).
          core::log_warning("http: accept failed: ", ec.message());
          auto timer = std::make_shared<asio::steady_timer>(self->acceptor.get_executor(),
                                                            std::chrono::milliseconds(100));
          timer->async_wait([self, timer](const boost::system::error_code&) {
            self->accept_next();
          });
          return;
        }
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
        std::uint64_t id = self->next_connection_id.fetch_add(1);
        auto connection =
            std::make_shared<Connection>(std::move(socket), self, std::move(peer), id);
        bool shutting_down;
        {
          std::lock_guard<std::mutex> lock(self->mutex);
          shutting_down = self->shutting_down;
          if (!shutting_down) self->connections.emplace(id, connection);
        }
        if (shutting_down) return;  // the socket closes with `connection`
        self->connections_total.fetch_add(1, std::memory_order_relaxed);
        connection->start();
        self->accept_next();
      });
}

void ServerState::close_listener() {
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
  const std::string& bind = state.options.bind;
  boost::system::error_code ec;
  GenericEndpoint endpoint;
  bool is_unix = bind.rfind("unix:", 0) == 0;
  if (is_unix) {
    std::string path = bind.substr(5);
    std::string problem = prepare_unix_path(path);
    if (!problem.empty()) return "cannot listen on " + bind + ": " + problem;
    endpoint = GenericEndpoint(asio::local::stream_protocol::endpoint(path));
  } else {
    asio::ip::tcp::endpoint tcp;
    std::string problem = tcp_endpoint_of(bind, &tcp);
    if (!problem.empty()) return problem;
    endpoint = GenericEndpoint(tcp);
  }
  state.acceptor.open(endpoint.protocol(), ec);
  if (!ec && !is_unix) state.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state.acceptor.bind(endpoint, ec);
  if (!ec) state.acceptor.listen(state.options.backlog, ec);
  if (ec) {
    boost::system::error_code ignored;
    state.acceptor.close(ignored);
    return "cannot listen on " + bind + ": " + ec.message();
  }
  if (is_unix) {
    state.unix_path = bind.substr(5);
    state.address = bind;
  } else {
    std::string host;
    int port = 0;
    numeric_address(state.acceptor.local_endpoint(ec), &host, &port);
    state.address = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                    ":" + std::to_string(port);
  }
  asio::dispatch(state.acceptor.get_executor(), [s = state_] { s->accept_next(); });
  return "";
}

std::string Server::address() const { return state_->address; }

void Server::shutdown(std::function<void()> drained) {
  std::vector<std::shared_ptr<detail::Connection>> open;
  bool empty;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->shutting_down = true;
    for (auto& [id, weak] : state_->connections) {
      if (auto connection = weak.lock()) open.push_back(connection);
    }
    empty = state_->connections.empty();
    if (!empty) state_->drained = std::move(drained);
  }
  asio::dispatch(state_->acceptor.get_executor(), [s = state_] { s->close_listener(); });
  for (auto& connection : open) connection->begin_shutdown();
  if (empty && drained) drained();
}

void Server::close_all() {
  std::vector<std::shared_ptr<detail::Connection>> open;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->shutting_down = true;
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
  }
  stats.connections_total = state_->connections_total.load();
  stats.requests_total = state_->requests_total.load();
  return stats;
}

}  // namespace puff::http
