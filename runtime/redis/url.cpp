#include "redis/url.h"

#include <cctype>
#include <charconv>

namespace puff::redis {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; false on a malformed escape.
bool decode(const std::string& in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool parse_int(const std::string& s, int& value) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool fail(std::string* error, const std::string& message) {
  if (error) *error = message;
  return false;
}

bool parse_db(const std::string& text, int& db, std::string* error) {
  if (!parse_int(text, db) || db < 0) {
    return fail(error, "database \"" + text + "\" is not a non-negative integer");
  }
  return true;
}

// "user:password" (either part optional) before '@'.
bool parse_userinfo(const std::string& info, Url& url, std::string* error) {
  auto colon = info.find(':');
  std::string user = colon == std::string::npos ? info : info.substr(0, colon);
  std::string pass = colon == std::string::npos ? "" : info.substr(colon + 1);
  if (!decode(user, url.username) || !decode(pass, url.password)) {
    return fail(error, "bad %-escape in the user or password");
  }
  return true;
}

bool parse_host_port(const std::string& hostport, Url& url, std::string* error) {
  std::string host;
  std::string port;
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return fail(error, "unterminated [IPv6] host");
    host = hostport.substr(1, close - 1);
    std::string rest = hostport.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return fail(error, "unexpected \"" + rest + "\" after the host");
      port = rest.substr(1);
      if (port.empty()) return fail(error, "empty port");
    }
  } else {
    auto colon = hostport.rfind(':');
    if (colon != std::string::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      if (port.empty()) return fail(error, "empty port");
    } else {
      host = hostport;
    }
  }
  if (!host.empty()) {
    std::string decoded;
    if (!decode(host, decoded)) return fail(error, "bad %-escape in the host");
    url.host = decoded;
  }
  if (!port.empty()) {
    int value = 0;
    if (!parse_int(port, value) || value < 1 || value > 65535) {
      return fail(error, "port \"" + port + "\" is not a number from 1 to 65535");
    }
    url.port = value;
  }
  return true;
}

bool parse_query(const std::string& query, Url& url, std::string* error) {
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string item = query.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string raw = eq == std::string::npos ? "" : item.substr(eq + 1);
    std::string value;
    if (!decode(raw, value)) return fail(error, "bad %-escape in parameter " + key);
    if (key == "db") {
      if (!parse_db(value, url.db, error)) return false;
    } else if (key == "password") {
      url.password = value;
    } else if (key == "username") {
      url.username = value;
    } else {
      return fail(error, "unknown parameter \"" + key + "\"; allowed: db, password, username");
    }
  }
  return true;
}

}  // namespace

std::string Url::where() const {
  if (unix_socket) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Url> parse_url(const std::string& text, std::string* error) {
  Url url;
  auto scheme_end = text.find("://");
  if (scheme_end == std::string::npos) {
    fail(error, "expected redis://host:port/db, rediss://... or unix:///path/to/redis.sock");
    return std::nullopt;
  }
  std::string scheme = text.substr(0, scheme_end);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "unix") {
    url.unix_socket = true;
  } else if (scheme == "rediss") {
    url.tls = true;
  } else if (scheme != "redis") {
    fail(error, "unknown scheme \"" + scheme + "\"; use redis://, rediss:// or unix://");
    return std::nullopt;
  }

  std::string rest = text.substr(scheme_end + 3);
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (auto hash = rest.find('#'); hash != std::string::npos) rest = rest.substr(0, hash);

  // Authority ends at the first '/' (the unix form has an empty authority or userinfo only).
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  std::string hostport = authority;
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    if (!parse_userinfo(authority.substr(0, at), url, error)) return std::nullopt;
    hostport = authority.substr(at + 1);
  }

  if (url.unix_socket) {
    if (!hostport.empty()) {
      fail(error, "unix:// URLs take a path, not a host (unix:///path/to/redis.sock)");
      return std::nullopt;
    }
    if (!decode(path, url.path) || url.path.size() < 2) {
      fail(error, "missing socket path (unix:///path/to/redis.sock)");
      return std::nullopt;
    }
  } else {
    if (hostport.empty()) {
      fail(error, "missing host (redis://127.0.0.1:6379/0)");
      return std::nullopt;
    }
    if (!parse_host_port(hostport, url, error)) return std::nullopt;
    if (path.size() > 1) {
      std::string db = path.substr(1);
      if (!db.empty() && db.back() == '/') db.pop_back();
      if (!parse_db(db, url.db, error)) return std::nullopt;
    }
  }
  if (!parse_query(query, url, error)) return std::nullopt;
  return url;
}

}  // namespace puff::redis
