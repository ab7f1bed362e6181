#include "redis/url.h"

#include <gtest/gtest.h>

namespace puff::redis {
namespace {

Url parse_ok(const std::string& text) {
  std::string error;
  auto url = parse_url(text, &error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(Url{});
}

std::string parse_error(const std::string& text) {
  std::string error;
  auto url = parse_url(text, &error);
  EXPECT_FALSE(url.has_value()) << text;
  EXPECT_FALSE(error.empty()) << text;
  return error;
}

TEST(RedisUrl, HostPortDb) {
  Url url = parse_ok("redis://10.0.0.5:6380/3");
  EXPECT_FALSE(url.unix_socket);
  EXPECT_FALSE(url.tls);
  EXPECT_EQ(url.host, "10.0.0.5");
  EXPECT_EQ(url.port, 6380);
  EXPECT_EQ(url.db, 3);
  EXPECT_EQ(url.where(), "10.0.0.5:6380");
}

TEST(RedisUrl, Defaults) {
  Url url = parse_ok("redis://cache");
  EXPECT_EQ(url.host, "cache");
  EXPECT_EQ(url.port, 6379);
  EXPECT_EQ(url.db, 0);
  EXPECT_TRUE(url.username.empty());
  EXPECT_TRUE(url.password.empty());
  EXPECT_EQ(parse_ok("redis://cache/").db, 0);
  EXPECT_EQ(parse_ok("REDIS://cache:1/2/").db, 2);
}

TEST(RedisUrl, Credentials) {
  Url url = parse_ok("redis://alice:s%40cret@127.0.0.1:6379/0");
  EXPECT_EQ(url.username, "alice");
  EXPECT_EQ(url.password, "s@cret");

  Url default_user = parse_ok("redis://:pw@localhost");
  EXPECT_EQ(default_user.username, "");
  EXPECT_EQ(default_user.password, "pw");

  // A password may contain '@' and ':' unescaped before the last '@'.
  Url odd = parse_ok("redis://:a:b@c@host:7000");
  EXPECT_EQ(odd.password, "a:b@c");
  EXPECT_EQ(odd.host, "host");
  EXPECT_EQ(odd.port, 7000);
}

TEST(RedisUrl, Ipv6) {
  Url url = parse_ok("redis://[::1]:6390/1");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 6390);
  EXPECT_EQ(url.where(), "[::1]:6390");
  EXPECT_EQ(parse_ok("redis://[fe80::1]").port, 6379);
}

TEST(RedisUrl, Tls) {
  Url url = parse_ok("rediss://:pw@cache.example.com:6380/0");
  EXPECT_TRUE(url.tls);
  EXPECT_EQ(url.host, "cache.example.com");
  EXPECT_TRUE(url.tls_verify);
  EXPECT_EQ(url.tls_ca_file, "");
  url = parse_ok("rediss://h?ssl_cert_reqs=none&ssl_ca_certs=%2Fetc%2Fca.pem");
  EXPECT_FALSE(url.tls_verify);
  EXPECT_EQ(url.tls_ca_file, "/etc/ca.pem");
  EXPECT_TRUE(parse_ok("rediss://h?ssl_cert_reqs=required").tls_verify);
}

TEST(RedisUrl, TlsParametersNeedRediss) {
  EXPECT_EQ(parse_error("redis://h?ssl_cert_reqs=none"),
            "unknown parameter \"ssl_cert_reqs\"; allowed: db, password, username (ssl_* need "
            "rediss://)");
  EXPECT_EQ(parse_error("rediss://h?ssl_cert_reqs=optional"),
            "ssl_cert_reqs must be none or required, got \"optional\"");
  EXPECT_EQ(parse_error("rediss://h?ssl_ca_certs="),
            "ssl_ca_certs must be a file path, got \"\"");
  EXPECT_EQ(parse_error("rediss://h?sslmode=x"),
            "unknown parameter \"sslmode\"; allowed: db, password, username, ssl_cert_reqs, "
            "ssl_ca_certs");
}

TEST(RedisUrl, UnixSocket) {
  Url url = parse_ok("unix:///tmp/x/redis.sock?db=4");
  EXPECT_TRUE(url.unix_socket);
  EXPECT_EQ(url.path, "/tmp/x/redis.sock");
  EXPECT_EQ(url.db, 4);
  EXPECT_EQ(url.where(), "/tmp/x/redis.sock");

  Url with_password = parse_ok("unix://:pw@/run/redis.sock?password=other&db=1");
  EXPECT_EQ(with_password.password, "other");  // the query wins, as in redis-py
  EXPECT_EQ(with_password.db, 1);
}

TEST(RedisUrl, QueryDbForTcp) {
  EXPECT_EQ(parse_ok("redis://h:1?db=7").db, 7);
  EXPECT_EQ(parse_ok("redis://h:1?username=bob&db=2").username, "bob");
  EXPECT_EQ(parse_ok("redis://h:1?db=7#fragment").db, 7);  // a fragment is ignored
}

TEST(RedisUrl, Errors) {
  EXPECT_NE(parse_error("127.0.0.1:6379").find("redis://"), std::string::npos);
  EXPECT_NE(parse_error("http://h").find("unknown scheme"), std::string::npos);
  EXPECT_NE(parse_error("redis://h:0").find("port"), std::string::npos);
  EXPECT_NE(parse_error("redis://h:70000").find("port"), std::string::npos);
  EXPECT_NE(parse_error("redis://h:abc").find("port"), std::string::npos);
  EXPECT_NE(parse_error("redis://h:").find("port"), std::string::npos);
  EXPECT_NE(parse_error("redis://h/x").find("database"), std::string::npos);
  EXPECT_NE(parse_error("redis://h/-1").find("database"), std::string::npos);
  EXPECT_NE(parse_error("redis://").find("host"), std::string::npos);
  EXPECT_NE(parse_error("redis://[::1").find("IPv6"), std::string::npos);
  EXPECT_NE(parse_error("unix://").find("path"), std::string::npos);
  EXPECT_NE(parse_error("unix://host/sock").find("path"), std::string::npos);
  EXPECT_NE(parse_error("redis://h?timeout=1").find("timeout"), std::string::npos);
  EXPECT_NE(parse_error("redis://:p%zz@h").find("escape"), std::string::npos);
  EXPECT_NE(parse_error("redis://:p%4@h").find("escape"), std::string::npos);
  EXPECT_NE(parse_error("unix:///tmp/%zz.sock").find("escape in the socket path"),
            std::string::npos);
  EXPECT_NE(parse_error("redis://::1:6379").find("IPv6 hosts need brackets"), std::string::npos);
  EXPECT_NE(parse_error("user:pw@host://x").find("not a URL"), std::string::npos);
}

TEST(RedisUrl, ErrorsQuoteTheValue) {
  EXPECT_EQ(parse_error("http://h"),
            "unknown scheme \"http\" (expected redis://, rediss:// or unix://)");
  EXPECT_EQ(parse_error("redis://h:70000"), "port must be 1..65535, got \"70000\"");
  EXPECT_EQ(parse_error("redis://h/x"), "database must be a non-negative integer, got \"x\"");
  EXPECT_EQ(parse_error("redis://h?db=-1"), "database must be a non-negative integer, got \"-1\"");
  EXPECT_EQ(parse_error("unix://run/redis.sock"),
            "unix socket path must be absolute, got \"run/redis.sock\" "
            "(unix:///path/to/redis.sock)");
}

TEST(RedisUrl, ErrorsDoNotEchoThePassword) {
  std::string error = parse_error("redis://:hunter2@h:99999");
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
  // An unescaped '/', '?' or '#' in the password ends the host part before the '@', so pieces
  // of the password land in the port, the database or a parameter name: no value is shown.
  for (const char* text : {"redis://:hun/ter2@h:6379/0", "redis://:hun?ter2@h",
                           "redis://:hun#ter2@h", "redis://u:5/hunter2@h",
                           "unix://:hun/ter2@/tmp/redis.sock"}) {
    error = parse_error(text);
    EXPECT_EQ(error.find("hun"), std::string::npos) << text << ": " << error;
    EXPECT_EQ(error.find("ter2"), std::string::npos) << text << ": " << error;
    EXPECT_NE(error.find("%2F"), std::string::npos) << text << ": " << error;
  }
}

}  // namespace
}  // namespace puff::redis
