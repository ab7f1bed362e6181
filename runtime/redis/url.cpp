#include "redis/url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/hex.h"

namespace puff::redis {
namespace {

// Percent-decoding; false on a malformed escape.
bool decode(const std::string& in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = core::hex_digit_value(in[i + 1]);
    int lo = core::hex_digit_value(in[i + 2]);
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

// Builds the one-line error messages. Values from the URL are quoted in them, unless `hide`:
// an '@' after the host means the user or password may hold an unescaped '/', '?' or '#', so
// any piece of the URL may be part of the password.
struct Errors {
  std::string* error;
  bool hide = false;

  bool fail(const std::string& message) const {
    if (error) {
      *error = message;
      if (hide) {
        *error += " (value hidden: it may hold part of the password; write '/', '?' and '#' in "
                  "a user or password as %2F, %3F and %23)";
      }
    }
    return false;
  }

  // `text` in double quotes, with " and \ escaped and control characters as '?'.
  std::string quote(const std::string& text) const {
    if (hide) return "\"***\"";
    std::string out = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') out += '\\';
      out += std::iscntrl(static_cast<unsigned char>(c)) ? '?' : c;
    }
    return out + '"';
  }
};

bool parse_db(const std::string& text, int& db, const Errors& errors) {
  if (!parse_int(text, db) || db < 0) {
    return errors.fail("database must be a non-negative integer, got " + errors.quote(text));
  }
  return true;
}

// "user:password" (either part optional) before '@'.
bool parse_userinfo(const std::string& info, Url& url, const Errors& errors) {
  auto colon = info.find(':');
  std::string user = colon == std::string::npos ? info : info.substr(0, colon);
  std::string pass = colon == std::string::npos ? "" : info.substr(colon + 1);
  if (!decode(user, url.username) || !decode(pass, url.password)) {
    return errors.fail("bad %-escape in the user or password");
  }
  return true;
}

bool parse_host_port(const std::string& hostport, Url& url, const Errors& errors) {
  std::string host;
  std::string port;
  if (!hostport.empty() && hostport[0] == '[') {
    auto close = hostport.find(']');
    if (close == std::string::npos) return errors.fail("unterminated [IPv6] host");
    host = hostport.substr(1, close - 1);
    std::string rest = hostport.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        return errors.fail("unexpected " + errors.quote(rest) + " after the host");
      }
      port = rest.substr(1);
      if (port.empty()) return errors.fail("empty port");
    }
  } else {
    auto colon = hostport.rfind(':');
    if (colon != std::string::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      if (host.find(':') != std::string::npos) {
        return errors.fail("IPv6 hosts need brackets: redis://[::1]:6379");
      }
      if (port.empty()) return errors.fail("empty port");
    } else {
      host = hostport;
    }
  }
  if (!host.empty()) {
    std::string decoded;
    if (!decode(host, decoded)) return errors.fail("bad %-escape in the host");
    url.host = decoded;
  }
  if (!port.empty()) {
    int value = 0;
    if (!parse_int(port, value) || value < 1 || value > 65535) {
      return errors.fail("port must be 1..65535, got " + errors.quote(port));
    }
    url.port = value;
  }
  return true;
}

bool parse_query(const std::string& query, Url& url, const Errors& errors) {
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
    if (key == "db") {
      // The raw text in messages: it is what the user wrote.
      if (!decode(raw, value)) return errors.fail("bad %-escape in parameter \"db\"");
      if (!parse_int(value, url.db) || url.db < 0) {
        return errors.fail("database must be a non-negative integer, got " + errors.quote(raw));
      }
    } else if (key == "password" || key == "username") {
      if (!decode(raw, value)) return errors.fail("bad %-escape in parameter \"" + key + "\"");
      (key == "password" ? url.password : url.username) = value;
    } else if (key == "ssl_cert_reqs" && url.tls) {
      decode(raw, value);
      if (value == "none") {
        url.tls_verify = false;
      } else if (value == "required") {
        url.tls_verify = true;
      } else {
        return errors.fail("ssl_cert_reqs must be none or required, got " + errors.quote(raw));
      }
    } else if (key == "ssl_ca_certs" && url.tls) {
      if (!decode(raw, url.tls_ca_file) || url.tls_ca_file.empty()) {
        return errors.fail("ssl_ca_certs must be a file path, got " + errors.quote(raw));
      }
    } else {
      return errors.fail("unknown parameter " + errors.quote(key) + "; allowed: db, password, " +
                         (url.tls ? "username, ssl_cert_reqs, ssl_ca_certs"
                                  : "username (ssl_* need rediss://)"));
    }
  }
  return true;
}

// "redis" of "redis://...", lower-cased; "" when `text` does not start with a URI scheme.
std::string scheme_of(const std::string& text, std::size_t end) {
  if (end == std::string::npos || end == 0 || !std::isalpha(static_cast<unsigned char>(text[0]))) {
    return "";
  }
  std::string scheme;
  for (std::size_t i = 0; i < end; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return "";
    scheme += static_cast<char>(std::tolower(c));
  }
  return scheme;
}

}  // namespace

std::string Url::where() const {
  if (unix_socket) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Url> parse_url(const std::string& text, std::string* error) {
  Url url;
  Errors errors{error};
  auto scheme_end = text.find("://");
  std::string scheme = scheme_of(text, scheme_end);
  if (scheme.empty()) {
    errors.fail("not a URL (expected redis://, rediss:// or unix://)");
    return std::nullopt;
  }
  if (scheme == "unix") {
    url.unix_socket = true;
  } else if (scheme == "rediss") {
    url.tls = true;
  } else if (scheme != "redis") {
    errors.fail("unknown scheme " + errors.quote(scheme) +
                " (expected redis://, rediss:// or unix://)");
    return std::nullopt;
  }

  std::string rest = text.substr(scheme_end + 3);
  // The authority (user, password, host, port) ends at the first '/', '?' or '#'; a later '@'
  // means a password with one of those unescaped (or an '@' in the path or query).
  errors.hide = rest.find('@', std::min(rest.find_first_of("/?#"), rest.size())) !=
                std::string::npos;
  if (auto hash = rest.find('#'); hash != std::string::npos) rest = rest.substr(0, hash);
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }

  // Authority ends at the first '/' (the unix form has an empty authority or userinfo only).
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  std::string hostport = authority;
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    if (!parse_userinfo(authority.substr(0, at), url, errors)) return std::nullopt;
    hostport = authority.substr(at + 1);
  }

  if (url.unix_socket) {
    if (!hostport.empty()) {
      errors.fail("unix socket path must be absolute, got " + errors.quote(hostport + path) +
                  " (unix:///path/to/redis.sock)");
      return std::nullopt;
    }
    if (path.size() < 2) {
      errors.fail("missing socket path (unix:///path/to/redis.sock)");
      return std::nullopt;
    }
    if (!decode(path, url.path)) {
      errors.fail("bad %-escape in the socket path");
      return std::nullopt;
    }
  } else {
    if (hostport.empty()) {
      errors.fail("missing host (redis://127.0.0.1:6379/0)");
      return std::nullopt;
    }
    if (!parse_host_port(hostport, url, errors)) return std::nullopt;
    if (path.size() > 1) {
      std::string db = path.substr(1);
      if (!db.empty() && db.back() == '/') db.pop_back();
      if (!parse_db(db, url.db, errors)) return std::nullopt;
    }
  }
  if (!parse_query(query, url, errors)) return std::nullopt;
  return url;
}

}  // namespace puff::redis
