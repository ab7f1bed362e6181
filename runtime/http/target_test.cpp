#include "http/target.h"

#include <gtest/gtest.h>

namespace puff::http {
namespace {

TEST(SplitTarget, OriginForm) {
  auto t = split_target("/a/b?x=1&y=%20#frag");
  EXPECT_EQ(t.path, "/a/b");
  EXPECT_EQ(t.query, "x=1&y=%20");
  t = split_target("/only");
  EXPECT_EQ(t.path, "/only");
  EXPECT_EQ(t.query, "");
  t = split_target("/q?");
  EXPECT_EQ(t.query, "");
}

TEST(SplitTarget, AbsoluteAndAsteriskForms) {
  auto t = split_target("http://example.com:8080/p?q=1");
  EXPECT_EQ(t.path, "/p");
  EXPECT_EQ(t.query, "q=1");
  EXPECT_EQ(split_target("http://example.com").path, "/");
  EXPECT_EQ(split_target("*").path, "*");
}

TEST(PercentDecode, DecodesBytesAndKeepsBrokenEscapes) {
  EXPECT_EQ(percent_decode("/a%20b"), "/a b");
  EXPECT_EQ(percent_decode("/caf%C3%A9"), "/caf\xc3\xa9");
  EXPECT_EQ(percent_decode("/%e9"), "/\xe9");
  EXPECT_EQ(percent_decode("/%2Fx"), "//x");
  EXPECT_EQ(percent_decode("/100%"), "/100%");
  EXPECT_EQ(percent_decode("/%4"), "/%4");
  EXPECT_EQ(percent_decode("/%zz"), "/%zz");
  EXPECT_EQ(percent_decode("/a+b"), "/a+b");
}

}  // namespace
}  // namespace puff::http
