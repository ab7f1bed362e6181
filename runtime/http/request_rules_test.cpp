#include "http/request_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace puff::http {
namespace {

// Feeds `bytes` to a scanner in pieces of `step` bytes, as reads would.
std::size_t scan_in_pieces(const std::string& bytes, std::size_t step, HeadVerdict& verdict,
                           HeadLimits limits = {}) {
  HeadScanner scanner(limits);
  for (std::size_t n = step; ; n += step) {
    std::size_t end = scanner.scan(std::string_view(bytes).substr(0, std::min(n, bytes.size())),
                                   verdict);
    if (end || verdict.refused() || n >= bytes.size()) return end;
  }
}

TEST(HeadScanner, FindsTheEndOfAHeadWhateverThePieces) {
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n";
  for (std::size_t step : {1, 2, 3, 7, 100}) {
    HeadVerdict verdict;
    EXPECT_EQ(scan_in_pieces(head + "BODY", step, verdict), head.size()) << step;
    EXPECT_FALSE(verdict.refused());
  }
}

TEST(HeadScanner, NeedsMoreUntilTheEmptyLine) {
  HeadScanner scanner({});
  HeadVerdict verdict;
  EXPECT_EQ(scanner.scan("GET / HTTP/1.1\r\nHost: x\r\n", verdict), 0u);
  EXPECT_FALSE(verdict.refused());
}

TEST(HeadScanner, SkipsEmptyLinesBeforeTheRequestLine) {
  std::string bytes = "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
  HeadScanner scanner({});
  HeadVerdict verdict;
  EXPECT_EQ(scanner.scan(bytes, verdict), bytes.size());
  EXPECT_EQ(scanner.head_start(), 4u);
}

TEST(HeadScanner, RefusesObsFold) {
  for (const char* head : {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\t5\r\n\r\n",
                           "GET / HTTP/1.1\r\n Host: x\r\n\r\n"}) {
    HeadVerdict verdict;
    EXPECT_EQ(scan_in_pieces(head, 1, verdict), 0u) << head;
    EXPECT_EQ(verdict.status, 400) << head;
  }
}

TEST(HeadScanner, RefusesBareLineFeeds) {
  for (const char* head : {"GET / HTTP/1.1\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\n\n",
                           "\nGET / HTTP/1.1\r\n\r\n"}) {
    HeadVerdict verdict;
    EXPECT_EQ(scan_in_pieces(head, 3, verdict), 0u) << head;
    EXPECT_EQ(verdict.status, 400) << head;
  }
}

TEST(HeadScanner, CountsFieldLinesAndRefusesAFloodEarly) {
  HeadLimits limits{64 * 1024, 100};
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) head += "a" + std::to_string(i) + ": b\r\n";
  HeadVerdict verdict;
  EXPECT_EQ(scan_in_pieces(head + "\r\n", 512, verdict, limits), head.size() + 2);
  EXPECT_FALSE(verdict.refused());
  // The 101st line is refused before the head ends (15,000 tiny fields never get parsed).
  std::string flood = head + "z: z\r\n";
  for (int i = 0; i < 15000; ++i) flood += "a:b\r\n";
  verdict = {};
  EXPECT_EQ(scan_in_pieces(flood, 4096, verdict, limits), 0u);
  EXPECT_EQ(verdict.status, 431);
}

TEST(HeadScanner, CountsTheWholeHeadAgainstMaxBytes) {
  HeadLimits limits{1024, 100000};
  std::string head = "GET / HTTP/1.1\r\n";
  while (head.size() < 1100) head += "a:b\r\n";  // many small fields, none large
  HeadVerdict verdict;
  EXPECT_EQ(scan_in_pieces(head, 64, verdict, limits), 0u);
  EXPECT_EQ(verdict.status, 431);
  // Complete but too large.
  verdict = {};
  EXPECT_EQ(scan_in_pieces(head + "\r\n", 4096, verdict, limits), 0u);
  EXPECT_EQ(verdict.status, 431);
}

RequestHead head_of(unsigned version, std::initializer_list<Header> headers) {
  RequestHead head;
  head.method = "POST";
  head.target = "/";
  head.version = version;
  head.headers = headers;
  return head;
}

int status_of(unsigned version, std::initializer_list<Header> headers, Framing* out = nullptr) {
  Framing framing;
  HeadVerdict verdict = check_request_framing(head_of(version, headers), framing);
  if (out) *out = framing;
  return verdict.status;
}

TEST(RequestFraming, AcceptsPlainRequests) {
  Framing framing;
  EXPECT_EQ(status_of(11, {{"Host", "example.com:8000"}}), 0);
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Content-Length", "5"}}, &framing), 0);
  EXPECT_FALSE(framing.chunked);
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Transfer-Encoding", "Chunked"}}, &framing), 0);
  EXPECT_TRUE(framing.chunked);
  EXPECT_FALSE(framing.close_after);
  EXPECT_EQ(status_of(11, {{"Host", "[::1]:80"}}), 0);
  EXPECT_EQ(status_of(11, {{"Host", ""}}), 0);  // allowed when the target has no authority
  EXPECT_EQ(status_of(10, {}), 0);              // HTTP/1.0 needs no Host
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Transfer-Encoding", ", chunked"}}), 0);
}

TEST(RequestFraming, RefusesTransferEncodingThatDoesNotEndInChunked) {
  for (const char* value : {"chunked, identity", "identity", "gzip", "xchunked", "chunked;a=b",
                            "", "chunked, chunked"}) {
    EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Transfer-Encoding", value}}), 400) << value;
  }
  // Split over two fields: one list.
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Transfer-Encoding", "chunked"},
                           {"Transfer-Encoding", "identity"}}), 400);
}

TEST(RequestFraming, OtherCodingsBeforeChunkedAreNotImplemented) {
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Transfer-Encoding", "gzip, chunked"}}), 501);
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Transfer-Encoding", "gzip"},
                           {"Transfer-Encoding", "chunked"}}), 501);
}

TEST(RequestFraming, NeverContentLengthBesideTransferEncoding) {
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Transfer-Encoding", "chunked"},
                           {"Content-Length", "4"}}), 400);
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Content-Length", "4"},
                           {"Transfer-Encoding", "chunked"}}), 400);
}

TEST(RequestFraming, OneContentLengthOfDigits) {
  for (const char* value : {"5, 5", "+5", "0x5", "-1", "5 5", "", "5.0"}) {
    EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Content-Length", value}}), 400) << value;
  }
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Content-Length", "5"}, {"Content-Length", "5"}}), 400);
  EXPECT_EQ(status_of(11, {{"Host", "x"}, {"Content-Length", "005"}}), 0);
}

TEST(RequestFraming, Http10WithTransferEncodingClosesAfterwards) {
  Framing framing;
  EXPECT_EQ(status_of(10, {{"Transfer-Encoding", "chunked"}}, &framing), 0);
  EXPECT_TRUE(framing.chunked);
  EXPECT_TRUE(framing.close_after);
  EXPECT_EQ(status_of(10, {{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}), 400);
}

TEST(RequestFraming, HostRules) {
  EXPECT_EQ(status_of(11, {}), 400);
  EXPECT_EQ(status_of(11, {{"Host", "a"}, {"Host", "a"}}), 400);
  EXPECT_EQ(status_of(10, {{"Host", "a"}, {"Host", "b"}}), 400);
  for (const char* value : {"a b", "a/b", "user@a", "a\\b", "a?b", "a#b", "\xc3\xa9"}) {
    EXPECT_EQ(status_of(11, {{"Host", value}}), 400) << value;
  }
}

}  // namespace
}  // namespace puff::http
