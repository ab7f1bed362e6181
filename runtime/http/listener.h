// Opening the listening socket, apart from the server: `puff runserver --workers N` opens it
// once in the supervisor, before fork(), and every worker accepts on the inherited fd.
#pragma once

#include <string>

namespace puff::http {

// Binds and listens on `bind` (HOST:PORT, [V6]:PORT or unix:/path; a stale unix socket file is
// replaced, a live one refused). "" and *fd set on success, else one line. The fd is
// close-on-exec, blocking, with SO_REUSEADDR for TCP.
std::string open_listener(const std::string& bind, int backlog, int* fd);

// Where `fd` listens: "http://127.0.0.1:8000", "http://[::1]:8000" or "unix:/path".
std::string listener_address(int fd);

// The path of a unix listening socket, "" for TCP.
std::string listener_unix_path(int fd);

// The start of a stop: the kernel completes no new connections on `fd` while those already in
// its backlog can still be accepted (closing would reset them). TCP: a socket filter drops new
// SYNs, so their clients are refused once the socket closes (at their first retry, ~1 s);
// unix: the socket file is removed. For every process sharing the socket.
void stop_new_connections(int fd);

}  // namespace puff::http
