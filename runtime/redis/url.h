// Redis connection URLs, as redis-py and django-redis write them:
//   redis://[[user]:password@]host[:port][/db]     (host may be [IPv6]; port 6379, db 0 default)
//   rediss://...                                    (TLS)
//   unix://[[user]:password@]/path/to/redis.sock[?db=N][&password=P]
// Query parameters `db`, `password` and `username` are accepted for every scheme; unknown
// parameters are errors (a typo must not be ignored silently). A #fragment is ignored.
#pragma once

#include <optional>
#include <string>

namespace puff::redis {

struct Url {
  bool unix_socket = false;
  bool tls = false;
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string path;      // unix socket path
  std::string username;  // empty: the default user (AUTH password)
  std::string password;  // empty: no AUTH
  int db = 0;

  // "127.0.0.1:6379", "[::1]:6379" or the socket path: where, for messages.
  std::string where() const;
};

// Parses `text`; on failure returns nullopt and sets *error (when given) to one line saying what
// is wrong and quoting the offending value, never the password: when an '@' follows the host
// (a password with an unescaped '/', '?' or '#'), values are shown as "***".
std::optional<Url> parse_url(const std::string& text, std::string* error = nullptr);

}  // namespace puff::redis
