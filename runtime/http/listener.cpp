#include "http/listener.h"

#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace puff::http {
namespace {

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

std::string failed(const std::string& bind, const char* what) {
  return "cannot listen on " + bind + ": " + what;
}

}  // namespace

std::string open_listener(const std::string& bind, int backlog, int* fd) {
  sockaddr_storage address{};
  socklen_t length = 0;
  bool is_unix = bind.rfind("unix:", 0) == 0;
  if (is_unix) {
    std::string path = bind.substr(5);
    auto* un = reinterpret_cast<sockaddr_un*>(&address);
    if (path.empty() || path.size() >= sizeof un->sun_path) {
      return failed(bind, "the socket path is empty or too long");
    }
    std::string problem = prepare_unix_path(path);
    if (!problem.empty()) return failed(bind, problem.c_str());
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.c_str(), path.size() + 1);
    length = sizeof(sockaddr_un);
  } else {
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
    if (rc != 0 || !found) return "cannot resolve --bind " + bind + ": " + gai_strerror(rc);
    std::memcpy(&address, found->ai_addr, found->ai_addrlen);
    length = found->ai_addrlen;
    ::freeaddrinfo(found);
  }
  int family = reinterpret_cast<sockaddr*>(&address)->sa_family;
  int socket_fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (socket_fd < 0) return failed(bind, std::strerror(errno));
  int one = 1;
  if (!is_unix) ::setsockopt(socket_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(socket_fd, reinterpret_cast<sockaddr*>(&address), length) < 0 ||
      ::listen(socket_fd, backlog) < 0) {
    std::string message = failed(bind, std::strerror(errno));
    ::close(socket_fd);
    return message;
  }
  *fd = socket_fd;
  return "";
}

std::string listener_address(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) return "?";
  if (address.ss_family == AF_UNIX) {
    return "unix:" + std::string(reinterpret_cast<sockaddr_un*>(&address)->sun_path);
  }
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&address), length, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  std::string text = host;
  if (text.find(':') != std::string::npos) text = "[" + text + "]";
  return "http://" + text + ":" + port;
}

std::string listener_unix_path(int fd) {
  std::string address = listener_address(fd);
  return address.rfind("unix:", 0) == 0 ? address.substr(5) : "";
}

void stop_new_connections(int fd) {
  std::string unix_path = listener_unix_path(fd);
  if (!unix_path.empty()) {
    ::unlink(unix_path.c_str());
    return;
  }
  sock_filter drop_all[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  sock_fprog program{1, drop_all};
  ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

}  // namespace puff::http
