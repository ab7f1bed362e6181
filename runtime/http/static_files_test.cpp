#include "http/static_files.h"

#include <gtest/gtest.h>

namespace puff::http {
namespace {

TEST(ByteRange, SingleRanges) {
  std::uint64_t first = 0, last = 0;
  EXPECT_EQ(parse_byte_range("bytes=0-9", 100, &first, &last), 1);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(last, 9u);
  EXPECT_EQ(parse_byte_range("bytes=90-", 100, &first, &last), 1);
  EXPECT_EQ(first, 90u);
  EXPECT_EQ(last, 99u);
  EXPECT_EQ(parse_byte_range("bytes=-5", 100, &first, &last), 1);
  EXPECT_EQ(first, 95u);
  EXPECT_EQ(last, 99u);
  EXPECT_EQ(parse_byte_range("bytes=-500", 100, &first, &last), 1);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(parse_byte_range("bytes=50-500", 100, &first, &last), 1);
  EXPECT_EQ(last, 99u);
}

TEST(ByteRange, UnsatisfiableAndIgnored) {
  std::uint64_t first = 0, last = 0;
  EXPECT_EQ(parse_byte_range("bytes=100-", 100, &first, &last), -1);
  EXPECT_EQ(parse_byte_range("bytes=-0", 100, &first, &last), -1);
  // Not one well-formed byte range: the whole file is sent.
  EXPECT_EQ(parse_byte_range("bytes=0-1,5-6", 100, &first, &last), 0);
  EXPECT_EQ(parse_byte_range("items=0-1", 100, &first, &last), 0);
  EXPECT_EQ(parse_byte_range("bytes=5-1", 100, &first, &last), 0);
  EXPECT_EQ(parse_byte_range("bytes=a-b", 100, &first, &last), 0);
  EXPECT_EQ(parse_byte_range("bytes=", 100, &first, &last), 0);
}

TEST(ContentType, ByExtension) {
  EXPECT_EQ(content_type_for("/x/site.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("/x/a.png"), "image/png");
  EXPECT_EQ(content_type_for("/x.d/noextension"), "application/octet-stream");
}

}  // namespace
}  // namespace puff::http
