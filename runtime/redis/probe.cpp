#include "redis/probe.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <cstdarg>
#include <cmath>
#include <memory>

#include "redis/url.h"

namespace puff::redis {
namespace {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// hiredis 0.14 writes with write(2): a server closing the socket mid-probe raises SIGPIPE, which
// kills a process that has not ignored it (plain `puff doctor` before Python starts). Block it on
// this thread for the probe and swallow one raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &saved_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t saved_;
  bool was_pending_ = false;
};

timeval to_timeval(double seconds) {
  if (!(seconds > 0.1)) seconds = 0.1;
  timeval tv;
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - std::floor(seconds)) * 1e6);
  return tv;
}

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && (s.size() < 2 || !(s[1] >= 'A' && s[1] <= 'Z'))) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

// hiredis reports a read timeout as EAGAIN's text; say what it means.
std::string context_error(const redisContext* c, double timeout_s) {
  std::string text = c->errstr;
  if (c->err == REDIS_ERR_IO && text.find("temporarily unavailable") != std::string::npos) {
    return "no answer within " + std::to_string(static_cast<int>(std::ceil(timeout_s))) + "s";
  }
  if (c->err == REDIS_ERR_EOF) return "server closed the connection";
  return lower_first(text);
}

std::string first_line(const std::string& s) {
  auto nl = s.find_first_of("\r\n");
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// Runs one command; on failure fills `error` (one line) and returns null.
ReplyPtr command(redisContext* c, double timeout_s, std::string& error, const char* format,
                 ...) {
  va_list ap;
  va_start(ap, format);
  auto* raw = static_cast<redisReply*>(redisvCommand(c, format, ap));
  va_end(ap);
  ReplyPtr reply(raw);
  if (!reply) {
    error = context_error(c, timeout_s);
    return nullptr;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    error = first_line(std::string(reply->str, reply->len));
    if (!error.empty() && error.back() == '.') error.pop_back();  // we append "; ..." hints
    return nullptr;
  }
  return reply;
}

std::string server_version(redisContext* c, double timeout_s) {
  std::string ignored;
  ReplyPtr info = command(c, timeout_s, ignored, "INFO server");
  if (!info || info->type != REDIS_REPLY_STRING) return "";
  std::string text(info->str, info->len);
  const std::string key = "redis_version:";
  auto at = text.find(key);
  if (at == std::string::npos) return "";
  auto end = text.find_first_of("\r\n", at);
  return text.substr(at + key.size(), end - at - key.size());
}

}  // namespace

ProbeResult probe(const std::string& url_text, double timeout_s) {
  std::string error;
  auto url = parse_url(url_text, &error);
  if (!url) return {false, "invalid Redis URL: " + error};
  if (url->tls) {
    return {false, "rediss:// (TLS) is not supported by the probe yet; cannot check " +
                       url->where()};
  }

  SigpipeGuard no_sigpipe;
  const timeval tv = to_timeval(timeout_s);
  ContextPtr c(url->unix_socket ? redisConnectUnixWithTimeout(url->path.c_str(), tv)
                                : redisConnectWithTimeout(url->host.c_str(), url->port, tv));
  if (!c) return {false, "out of memory connecting to " + url->where()};
  if (c->err) {
    std::string msg = context_error(c.get(), timeout_s) + " at " + url->where();
    if (c->err == REDIS_ERR_IO) msg += "; is redis-server running there?";
    return {false, msg};
  }
  redisSetTimeout(c.get(), tv);

  if (!url->password.empty()) {
    ReplyPtr auth = url->username.empty()
                        ? command(c.get(), timeout_s, error, "AUTH %s", url->password.c_str())
                        : command(c.get(), timeout_s, error, "AUTH %s %s", url->username.c_str(),
                                  url->password.c_str());
    if (!auth) return {false, "authentication failed at " + url->where() + ": " + error};
  }
  if (url->db != 0 && !command(c.get(), timeout_s, error, "SELECT %d", url->db)) {
    return {false, "SELECT " + std::to_string(url->db) + " failed at " + url->where() + ": " +
                       error};
  }
  ReplyPtr pong = command(c.get(), timeout_s, error, "PING");
  if (!pong) {
    std::string msg = "PING failed at " + url->where() + ": " + error;
    if (error.rfind("NOAUTH", 0) == 0) msg += "; put the password in the URL (redis://:PASSWORD@host:port/db)";
    return {false, msg};
  }

  std::string version = server_version(c.get(), timeout_s);
  std::string msg = "Redis " + (version.empty() ? std::string("(version unknown)") : version) +
                    " at " + url->where() + " (db " + std::to_string(url->db) + ")";
  return {true, msg};
}

}  // namespace puff::redis
