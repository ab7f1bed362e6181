// Validation of Postgres URLs (by libpq itself), Redis URLs (by redis::parse_url) and listen
// addresses.
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <sys/un.h>

#include <cctype>
#include <charconv>
#include <memory>

#include "config/config.h"
#include "config/detail.h"
#include "redis/url.h"

namespace puff::config {
namespace {

using detail::quote;

constexpr const char* kPostgresForms =
    "; use \"embedded\", postgresql://user:password@host:port/dbname or a libpq "
    "\"host=... dbname=...\" string";
constexpr const char* kRedisForms =
    "; use \"embedded\", redis://[user[:password]@]host[:port][/db], rediss://... (TLS) or "
    "unix:///absolute/path[?db=N]";
constexpr const char* kBindForms = "; use HOST:PORT, [IPv6]:PORT or unix:/absolute/path";

// A whole-string unsigned decimal in [0, max]; no sign, no spaces.
bool parse_number(std::string_view text, int max, int& out) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return false;
  out = value;
  return true;
}

// libpq's messages end in a newline and may span lines; ours are one line.
std::string one_line(const char* text) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    bool space = std::isspace(static_cast<unsigned char>(*p));
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : *p;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The password written in a conninfo string or URI, found lexically (libpq could not parse it).
std::string written_password(const std::string& url) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end != std::string::npos) {
    std::size_t start = scheme_end + 3;
    std::size_t at = url.find('@', start);
    std::size_t colon = url.find(':', start);
    if (at != std::string::npos && colon < at && url.find('/', start) > at) {
      return url.substr(colon + 1, at - colon - 1);
    }
    return "";
  }
  std::size_t key = url.find("password");
  if (key == std::string::npos) return "";
  std::size_t value = url.find_first_not_of(" \t=", key + 8);
  if (value == std::string::npos) return "";
  if (url[value] == '\'') return url.substr(value + 1, url.find('\'', value + 1) - value - 1);
  return url.substr(value, url.find(' ', value) - value);
}

// libpq quotes parts of the input (even a whole URI) in its messages: keep passwords out of
// logs and terminals.
std::string redact(std::string message, const std::string& password) {
  if (password.empty()) return message;
  for (std::size_t at = message.find(password); at != std::string::npos;
       at = message.find(password, at + 3)) {
    message.replace(at, password.size(), "***");
  }
  return message;
}

// "scheme" of "scheme://...", or "" when `url` does not start with a URI scheme.
std::string uri_scheme(const std::string& url) {
  std::size_t end = url.find("://");
  if (end == std::string::npos || end == 0 || !std::isalpha(static_cast<unsigned char>(url[0]))) {
    return "";
  }
  for (std::size_t i = 0; i < end; ++i) {
    char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return "";
    }
  }
  return detail::to_lower(std::string_view(url).substr(0, end));
}

}  // namespace

std::string check_postgres_url(const std::string& url) {
  if (url == kEmbeddedUrl) return "";
  if (url.empty()) return std::string("the URL is empty") + kPostgresForms;
  std::string scheme = uri_scheme(url);
  if (!scheme.empty() && scheme != "postgres" && scheme != "postgresql") {
    return "unsupported scheme " + quote(scheme) + kPostgresForms;
  }
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(url.c_str(), &error), &PQconninfoFree);
  if (!options) {
    std::string message =
        error != nullptr ? redact(one_line(error), written_password(url)) : "out of memory";
    PQfreemem(error);
    return "libpq rejected it: " + message + kPostgresForms;
  }
  // libpq checks the port only when connecting; a typo should fail at start-up.
  for (PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr || std::string_view(option->keyword) != "port") continue;
    std::string_view ports(option->val);
    while (true) {
      std::size_t comma = ports.find(',');
      std::string_view port = ports.substr(0, comma);
      int value = 0;
      if (!port.empty() && (!parse_number(port, 65535, value) || value == 0)) {
        return "port must be 1..65535, got " + quote(port) + kPostgresForms;
      }
      if (comma == std::string_view::npos) break;
      ports = ports.substr(comma + 1);
    }
  }
  return "";
}

// The redis component's parser, the one that connects: what passes here connects the same way.
std::string check_redis_url(const std::string& url) {
  if (url == kEmbeddedUrl) return "";
  std::string error;
  if (redis::parse_url(url, &error)) return "";
  return error + kRedisForms;
}

std::string check_bind(const std::string& bind) {
  if (bind.empty()) return std::string("the address is empty") + kBindForms;
  if (bind.rfind("unix:", 0) == 0) {
    std::string path = bind.substr(5);
    if (path.empty() || path[0] != '/') {
      return std::string("unix socket path must be absolute") + kBindForms;
    }
    if (path.size() >= sizeof(sockaddr_un::sun_path)) {
      return "unix socket path is longer than " +
             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes; use a shorter path";
    }
    return "";
  }
  std::string host;
  std::string_view port;
  if (bind[0] == '[') {
    std::size_t close = bind.find(']');
    unsigned char buffer[16];
    host = bind.substr(1, close == std::string::npos ? 0 : close - 1);
    if (close == std::string::npos || inet_pton(AF_INET6, host.c_str(), buffer) != 1) {
      return quote(bind) + " does not hold an IPv6 address in brackets" + kBindForms;
    }
    if (close + 1 >= bind.size() || bind[close + 1] != ':') {
      return quote(bind) + " has no port" + kBindForms;
    }
    port = std::string_view(bind).substr(close + 2);
  } else {
    std::size_t colon = bind.rfind(':');
    if (colon == std::string::npos) return quote(bind) + " has no port" + kBindForms;
    host = bind.substr(0, colon);
    port = std::string_view(bind).substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return quote(bind) + ": IPv6 addresses need brackets, e.g. [::1]:8000" + kBindForms;
    }
    if (host.empty()) {
      return quote(bind) + " has no host; use 0.0.0.0:PORT for all interfaces or " +
             "127.0.0.1:PORT for this machine only";
    }
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') {
        return quote(bind) + " has an invalid host name" + kBindForms;
      }
    }
  }
  int value = 0;
  if (!parse_number(port, 65535, value)) {
    return quote(bind) + ": port must be 0..65535, got " + quote(port) + kBindForms;
  }
  return "";
}

}  // namespace puff::config
