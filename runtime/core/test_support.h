// Helpers shared by the tests of the native IO components (pg, redis): free ports, open file
// descriptors and the log lines written. Test code only.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
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

// Captures what the process writes to stderr (core/log's lines) while it lives; written on to
// the real stderr afterwards, so that a failing test still shows them.
class CapturedStderr {
 public:
  CapturedStderr() : file_(std::tmpfile()) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    if (file_) ::dup2(::fileno(file_), STDERR_FILENO);
  }
  ~CapturedStderr() {
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    const std::string captured = text();
    ssize_t ignored = ::write(STDERR_FILENO, captured.data(), captured.size());
    (void)ignored;
    if (file_) std::fclose(file_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  std::string text() const {
    struct stat st {};
    if (!file_ || ::fstat(::fileno(file_), &st) != 0) return "";
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    const ssize_t n = ::pread(::fileno(file_), out.data(), out.size(), 0);
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
  }
  // How many lines so far contain `needle`.
  int lines_with(std::string_view needle) const {
    int n = 0;
    const std::string all = text();
    for (std::size_t start = 0; start < all.size();) {
      std::size_t end = all.find('\n', start);
      if (end == std::string::npos) end = all.size();
      n += std::string_view(all).substr(start, end - start).find(needle) != std::string_view::npos;
      start = end + 1;
    }
    return n;
  }

 private:
  std::FILE* file_;
  int saved_ = -1;
};

}  // namespace puff::core::testing
