// Helpers shared by the tests of the native IO components (pg, redis): free ports and open
// file descriptors. Test code only.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace puff::core::testing {

// A loopback port nobody listens on (bound then closed: refused on connect).
inline int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline int open_fd_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

// Waits (bounded) until the process has at most `limit` open descriptors; returns the count.
inline int settle_fds(int limit) {
  int n = open_fd_count();
  for (int i = 0; i < 100 && n > limit; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    n = open_fd_count();
  }
  return n;
}

}  // namespace puff::core::testing
