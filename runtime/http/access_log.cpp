#include "http/access_log.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>

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

std::string clf_time() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::array<char, 64> text{};
  std::strftime(text.data(), text.size(), "%d/%b/%Y:%H:%M:%S %z", &local);
  return text.data();
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

void write_access_line(const std::string& line) {
  // One write per line; a short write (full pipe) is finished, an error is dropped.
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written <= 0) return;
    data += written;
    left -= static_cast<size_t>(written);
  }
}

}  // namespace puff::http
