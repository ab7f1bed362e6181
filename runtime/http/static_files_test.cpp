#include "http/static_files.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <string>

#include "http/response_head.h"

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

// A directory with one file modified a day ago, mounted at /static/.
class StaticDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/puff-static-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    mount_ = {"/static/", pattern};
    file_ = mount_.directory + "/a.txt";
    std::ofstream(file_) << "hello\n";
    modified_ = std::time(nullptr) - 86400;
    struct timespec times[2] = {{modified_, 0}, {modified_, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, file_.c_str(), times, 0), 0);
  }
  void TearDown() override {
    ::unlink(file_.c_str());
    ::rmdir(mount_.directory.c_str());
  }
  int status_if_modified_since(const std::string& date) {
    RequestHead request;
    request.method = "GET";
    request.target = "/static/a.txt";
    request.headers.push_back({"If-Modified-Since", date});
    return answer_static(mount_, request).head.status;
  }

  StaticMount mount_;
  std::string file_;
  std::time_t modified_ = 0;
};

TEST_F(StaticDirectory, IfModifiedSinceAtOrAfterTheFileIsNotModified) {
  EXPECT_EQ(status_if_modified_since(format_http_date(modified_)), 304);
  EXPECT_EQ(status_if_modified_since(format_http_date(modified_ + 3600)), 304);
  EXPECT_EQ(status_if_modified_since(format_http_date(modified_ - 1)), 200);
}

TEST_F(StaticDirectory, IfModifiedSinceInTheFutureOrMalformedIsIgnored) {
  // RFC 9110 §13.1.3: a date later than the server's current time is invalid.
  EXPECT_EQ(status_if_modified_since(format_http_date(std::time(nullptr) + 86400)), 200);
  EXPECT_EQ(status_if_modified_since("Thu, 01 Jan 2099 00:00:00 GMT"), 200);
  EXPECT_EQ(status_if_modified_since("yesterday"), 200);
}

}  // namespace
}  // namespace puff::http
