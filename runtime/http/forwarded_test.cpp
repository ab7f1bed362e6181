#include "http/forwarded.h"

#include <gtest/gtest.h>

namespace puff::http {
namespace {

RequestHead from(const std::string& peer, std::vector<Header> headers) {
  RequestHead head;
  head.peer.remote_addr = peer;
  head.headers = std::move(headers);
  return head;
}

TEST(TrustedProxies, AddressesAndRanges) {
  TrustedProxies proxies({"127.0.0.1", "10.0.0.0/8", "fd00::/8"});
  EXPECT_TRUE(proxies.contains("127.0.0.1"));
  EXPECT_TRUE(proxies.contains("::ffff:127.0.0.1"));
  EXPECT_FALSE(proxies.contains("127.0.0.2"));
  EXPECT_TRUE(proxies.contains("10.200.3.4"));
  EXPECT_FALSE(proxies.contains("11.0.0.1"));
  EXPECT_TRUE(proxies.contains("fd12::1"));
  EXPECT_FALSE(proxies.contains("fe80::1"));
  EXPECT_FALSE(proxies.contains("not an address"));
}

TEST(ClientView, OnlyTrustedPeersAreBelieved) {
  TrustedProxies proxies({"127.0.0.1", "10.0.0.0/8"});
  auto view = client_view(from("127.0.0.1", {{"X-Forwarded-For", "203.0.113.9, 10.1.1.1"},
                                              {"X-Forwarded-Proto", "HTTPS"}}),
                          proxies);
  EXPECT_EQ(view.remote_addr, "203.0.113.9");  // 10.1.1.1 is a proxy too: skipped
  EXPECT_EQ(view.scheme, "https");
  // A client that forged the header before the proxy appended the real one.
  view = client_view(from("127.0.0.1", {{"X-Forwarded-For", "1.2.3.4"},
                                        {"X-Forwarded-For", "198.51.100.7"}}),
                     proxies);
  EXPECT_EQ(view.remote_addr, "198.51.100.7");
  // Not from a proxy: the headers are ignored.
  view = client_view(from("192.0.2.1", {{"X-Forwarded-For", "1.2.3.4"},
                                        {"X-Forwarded-Proto", "https"}}),
                     proxies);
  EXPECT_EQ(view.remote_addr, "192.0.2.1");
  EXPECT_EQ(view.scheme, "http");
  view = client_view(from("127.0.0.1", {{"X-Forwarded-Proto", "gopher"}}), proxies);
  EXPECT_EQ(view.remote_addr, "127.0.0.1");
  EXPECT_EQ(view.scheme, "http");
}

}  // namespace
}  // namespace puff::http
