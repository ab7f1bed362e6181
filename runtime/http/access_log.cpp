#include "http/access_log.h"

#include <pthread.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string_view>
#include <thread>

namespace puff::http {
namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          // Bytes, not code points: request targets are not necessarily UTF-8.
          std::array<char, 8> escaped{};
          std::snprintf(escaped.data(), escaped.size(), "\\u%04x", c);
          out += escaped.data();
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// CLF quotes its fields: keep a quote or a control byte in a target from forging a line.
std::string clf_field(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
      std::array<char, 8> escaped{};
      std::snprintf(escaped.data(), escaped.size(), "\\x%02x", c);
      out += escaped.data();
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// The local time in CLF, formatted once per second per thread (localtime_r takes a lock).
std::string clf_time() {
  thread_local std::time_t cached_second = 0;
  thread_local std::array<char, 64> text{};
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm local{};
    localtime_r(&now, &local);
    std::strftime(text.data(), text.size(), "%d/%b/%Y:%H:%M:%S %z", &local);
    cached_second = now;
  }
  return text.data();
}

// Writes `data` to stderr; a short write (full pipe) is finished, an error drops the rest.
void write_all(const char* data, std::size_t left) {
  while (left > 0) {
    ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written <= 0) return;
    data += written;
    left -= static_cast<std::size_t>(written);
  }
}

// Lines from the IO threads are written by a thread of their own, in writes of whole lines of
// at most PIPE_BUF bytes (a pipe never interleaves those with other processes' writes: the
// workers share stderr), when 16 KiB wait or 50 ms after the first: one write(2) per request
// was the access log's cost.
class Writer {
 public:
  void append(std::string_view line) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    bool was_empty = pending_.empty();
    pending_.append(line);
    if (was_empty || pending_.size() >= kWakeBytes) wake_.notify_one();
  }

  // Writes what waits and waits for the batch the thread may be writing.
  void flush() {
    std::unique_lock<std::mutex> lock(mutex_);
    written_.wait(lock, [this] { return !writing_; });
    std::string lines;
    lines.swap(pending_);
    write_lines(lines);  // under the lock: nothing else is written meanwhile
  }

 private:
  static constexpr std::size_t kWakeBytes = 16 * 1024;
  static constexpr std::size_t kMaxWrite = 4096;  // PIPE_BUF on Linux
  static constexpr auto kDelay = std::chrono::milliseconds(50);

  void run() {
    pthread_setname_np(pthread_self(), "puff-access-log");
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return !pending_.empty(); });
      wake_.wait_for(lock, kDelay, [this] { return pending_.size() >= kWakeBytes; });
      std::string lines;
      lines.swap(pending_);
      writing_ = true;
      lock.unlock();
      write_lines(lines);
      lock.lock();
      writing_ = false;
      written_.notify_all();
    }
  }

  static void write_lines(const std::string& lines) {
    std::size_t start = 0;
    while (start < lines.size()) {
      std::size_t end = start + kMaxWrite < lines.size() ? start + kMaxWrite : lines.size();
      if (end < lines.size()) {
        std::size_t newline = lines.rfind('\n', end - 1);
        end = newline != std::string::npos && newline >= start ? newline + 1 : end;
      }
      write_all(lines.data() + start, end - start);
      start = end;
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  bool writing_ = false;
  std::string pending_;
  std::thread thread_;  // never joined: it sleeps until the process exits
};

Writer& writer() {
  static auto* instance = new Writer;  // outlives static destruction: IO threads may still log
  return *instance;
}

std::string remote_of(const Peer& peer) {
  return peer.unix_socket || peer.remote_addr.empty() ? "-" : peer.remote_addr;
}

}  // namespace

std::string parse_access_log_format(const std::string& name, AccessLogFormat* out) {
  if (name == "common") *out = AccessLogFormat::common;
  else if (name == "json") *out = AccessLogFormat::json;
  else if (name == "off") *out = AccessLogFormat::off;
  else return "access_log must be one of common, json, off; got \"" + name + "\"";
  return "";
}

std::string format_access_line(AccessLogFormat format, const AccessRecord& record) {
  const RequestHead& request = *record.request;
  std::string version = request.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
  std::array<char, 32> duration{};
  std::snprintf(duration.data(), duration.size(), "%.6f", record.duration_s);
  if (format == AccessLogFormat::json) {
    return "{\"remote_addr\":" + json_string(remote_of(request.peer)) +
           ",\"method\":" + json_string(request.method) + ",\"target\":" +
           json_string(request.target) + ",\"protocol\":\"" + version +
           "\",\"status\":" + std::to_string(record.status) +
           ",\"bytes\":" + std::to_string(record.body_bytes) + ",\"duration_s\":" +
           duration.data() + ",\"user_agent\":" + json_string(record.user_agent) +
           ",\"referer\":" + json_string(record.referer) + "}\n";
  }
  return remote_of(request.peer) + " - - [" + clf_time() + "] \"" + clf_field(request.method) +
         " " + clf_field(request.target) + " " + version + "\" " + std::to_string(record.status) +
         " " + (record.body_bytes ? std::to_string(record.body_bytes) : "-") + " " +
         duration.data() + "\n";
}

void write_access_line(std::string_view line) { writer().append(line); }

void flush_access_log() { writer().flush(); }

}  // namespace puff::http
