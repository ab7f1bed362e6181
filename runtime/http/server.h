// An HTTP/1.1 server on the IO threads: a listener (TCP or unix socket) and its connections.
// Each request head goes to the handler as an Exchange; see exchange.h.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/exchange.h"
#include "http/options.h"

namespace puff::http {

namespace detail {
struct ServerState;
}

struct ServerStats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_total = 0;
  std::uint64_t requests_total = 0;
  bool listening = false;  // until shutdown() took the backlog and closed the listener
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Handler handler);
  // Closes the listener and every connection.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens, then accepts on the IO threads. "" on success, else one line.
  std::string start();
  // Where it listens: "http://127.0.0.1:8000", "http://[::1]:8000" or "unix:/path".
  std::string address() const;

  // Stops accepting; every connection finishes the requests it has read and closes. The
  // connections already waiting in the listen backlog are taken first and get their request
  // answered (the kernel accepted them: closing the listener would reset them). Asynchronous:
  // stats().listening turns false once that is done. `drained` runs once (on an IO thread)
  // when no connection is left.
  void shutdown(std::function<void()> drained);
  // Closes every connection now.
  void close_all();

  ServerStats stats() const;

 private:
  std::shared_ptr<detail::ServerState> state_;
};

}  // namespace puff::http
