#include "http/response_head.h"

#include <gtest/gtest.h>

#include "http/access_log.h"

namespace puff::http {
namespace {

TEST(ParseStatus, AcceptsCodeAndReason) {
  int code = 0;
  std::string reason;
  EXPECT_EQ(parse_status("200 OK", &code, &reason), "");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(reason, "OK");
  EXPECT_EQ(parse_status("404 ", &code, &reason), "");
  EXPECT_EQ(code, 404);
  EXPECT_EQ(reason, "");
}

TEST(ParseStatus, RefusesMalformedLines) {
  int code = 0;
  std::string reason;
  for (const char* bad : {"200", "OK", "20 OK", "2000 OK", "abc OK", "200\tOK", "200 OK\r\nX: y",
                          "099 Low", ""}) {
    EXPECT_NE(parse_status(bad, &code, &reason), "") << bad;
  }
}

TEST(CheckResponseHead, RefusesInjection) {
  ResponseHead ok{200, "OK", {{"Content-Type", "text/plain"}, {"X-Obs", "caf\xe9"}}};
  EXPECT_EQ(check_response_head(ok), "");
  ResponseHead bad_value{200, "OK", {{"X-A", "a\r\nSet-Cookie: x=1"}}};
  EXPECT_NE(check_response_head(bad_value), "");
  ResponseHead bad_name{200, "OK", {{"X A", "1"}}};
  EXPECT_NE(check_response_head(bad_name), "");
  ResponseHead newline_name{200, "OK", {{"X\nA", "1"}}};
  EXPECT_NE(check_response_head(newline_name), "");
  ResponseHead empty_name{200, "OK", {{"", "1"}}};
  EXPECT_NE(check_response_head(empty_name), "");
  ResponseHead nul{200, "OK", {{"X-A", std::string("a\0b", 3)}}};
  EXPECT_NE(check_response_head(nul), "");
  ResponseHead bad_reason{200, "O\nK", {}};
  EXPECT_NE(check_response_head(bad_reason), "");
}

TEST(HeaderIs, IgnoresCase) {
  EXPECT_TRUE(header_is({"content-LENGTH", "1"}, "Content-Length"));
  EXPECT_FALSE(header_is({"Content-Lengthx", "1"}, "Content-Length"));
}

TEST(HttpDate, IsImfFixdate) {
  std::string date = http_date_now();
  ASSERT_EQ(date.size(), 29u) << date;
  EXPECT_EQ(date.substr(25), " GMT");
}

TEST(AccessLog, CommonAndJsonEscapeTheTarget) {
  RequestHead head;
  head.method = "GET";
  head.target = "/a\"b\n";
  head.peer.remote_addr = "127.0.0.1";
  AccessRecord record{&head, 200, 5, 0.001, "curl", ""};
  std::string common = format_access_line(AccessLogFormat::common, record);
  EXPECT_NE(common.find("127.0.0.1 - - ["), std::string::npos) << common;
  EXPECT_NE(common.find("\"GET /a\\x22b\\x0a HTTP/1.1\" 200 5 "), std::string::npos) << common;
  EXPECT_EQ(common.back(), '\n');
  EXPECT_EQ(common.find('\n'), common.size() - 1);
  std::string json = format_access_line(AccessLogFormat::json, record);
  EXPECT_NE(json.find("\"target\":\"/a\\\"b\\n\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"status\":200"), std::string::npos) << json;
  AccessLogFormat format;
  EXPECT_EQ(parse_access_log_format("json", &format), "");
  EXPECT_EQ(format, AccessLogFormat::json);
  EXPECT_NE(parse_access_log_format("combined", &format), "");
}

}  // namespace
}  // namespace puff::http
