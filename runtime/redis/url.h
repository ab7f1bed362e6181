// Redis connection URLs, as redis-py and django-redis write them:
//   redis://[[user]:password@]host[:port][/db]     (host may be [IPv6]; port 6379, db 0 default)
//   rediss://...[?ssl_cert_reqs=none|required][&ssl_ca_certs=/path/ca.pem]   (TLS, as redis-py:
//                                                   the server's certificate is verified against
//                                                   the system's CAs or ssl_ca_certs, and must
//                                                   name the host, unless ssl_cert_reqs=none)
//   unix://[[user]:password@]/path/to/redis.sock[?db=N][&password=P]
// Query parameters `db`, `password` and `username` are accepted for every scheme, the ssl_*
// ones with rediss:// only; unknown
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
  bool tls_verify = true;   // rediss://: check the server's certificate and name
  std::string tls_ca_file;  // rediss://: CA bundle instead of the system's

  // "127.0.0.1:6379", "[::1]:6379" or the socket path: where, for messages.
  std::string where() const;
};

// Parses `text`; on failure returns nullopt and sets *error (when given) to one line saying what
// is wrong and quoting the offending value, never the password: when an '@' follows the host
// (a password with an unescaped '/', '?' or '#'), values are shown as "***".
std::optional<Url> parse_url(const std::string& text, std::string* error = nullptr);

}  // namespace puff::redis
