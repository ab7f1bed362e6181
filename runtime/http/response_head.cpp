#include "http/response_head.h"

#include "http/syntax.h"

#include <array>
#include <chrono>
#include <ctime>
#include <mutex>

namespace puff::http {

bool header_is(const Header& header, std::string_view name) {
  if (header.name.size() != name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if ((header.name[i] | 0x20) != (name[i] | 0x20)) return false;
  }
  return true;
}

std::string parse_status(std::string_view status, int* code, std::string* reason) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (status.size() < 4 || !digit(status[0]) || !digit(status[1]) || !digit(status[2]) ||
      status[3] != ' ') {
    return "invalid status line: expected \"NNN Reason\", got \"" + std::string(status.substr(0, 80)) + "\"";
  }
  for (char c : status) {
    if (!is_value_char(static_cast<unsigned char>(c))) {
      return "invalid status line: control character in \"" + std::string(status.substr(0, 80)) + "\"";
    }
  }
  int value = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
  if (value < 100) return "invalid status code " + std::to_string(value);
  *code = value;
  *reason = std::string(status.substr(4));
  return "";
}

std::string check_response_head(const ResponseHead& head) {
  if (head.status < 100 || head.status > 999) {
    return "invalid status code " + std::to_string(head.status);
  }
  for (char c : head.reason) {
    if (!is_value_char(static_cast<unsigned char>(c))) return "control character in the reason phrase";
  }
  for (const Header& header : head.headers) {
    if (header.name.empty()) return "empty header name";
    for (char c : header.name) {
      if (!is_token_char(static_cast<unsigned char>(c))) {
        return "invalid character in header name \"" + header.name.substr(0, 80) + "\"";
      }
    }
    for (char c : header.value) {
      if (!is_value_char(static_cast<unsigned char>(c))) {
        return "control character (CR, LF or NUL) in the value of header \"" + header.name + "\"";
      }
    }
  }
  return "";
}

std::string format_http_date(std::time_t when) {
  std::tm utc{};
  gmtime_r(&when, &utc);
  std::array<char, 64> text{};
  std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return text.data();
}

std::string http_date_now() {
  static std::mutex mutex;
  static std::time_t cached_second = 0;
  static std::string cached;
  std::time_t now = std::time(nullptr);
  std::lock_guard<std::mutex> lock(mutex);
  if (now != cached_second) {
    cached = format_http_date(now);
    cached_second = now;
  }
  return cached;
}

}  // namespace puff::http
