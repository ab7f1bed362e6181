#include "http/request_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace puff::http {
namespace {

using Step = RequestReader::Step;

void feed(RequestReader& reader, std::string_view bytes) {
  while (!bytes.empty()) {
    boost::asio::mutable_buffer space = reader.prepare(bytes.size());
    ASSERT_GT(space.size(), 0u);
    std::memcpy(space.data(), bytes.data(), space.size());
    reader.commit(space.size());
    bytes.remove_prefix(space.size());
  }
}

// Reads the whole body of the current head, `max` bytes at a time.
std::string read_whole_body(RequestReader& reader, std::size_t max, HeadVerdict& refusal) {
  std::string body;
  for (;;) {
    RequestReader::BodyPiece piece;
    Step step = reader.read_body(max, piece, refusal);
    if (step == Step::refused) return body;
    EXPECT_LE(piece.data.size(), max);
    body += piece.data;
    if (piece.done) return body;
    if (step == Step::need_more) return body + "<need more>";
  }
}

TEST(RequestReader, ReadsPipelinedRequestsInOrder) {
  RequestReader reader({});
  feed(reader,
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
       "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
       "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
  RequestReader::Head head;
  HeadVerdict refusal;
  ASSERT_EQ(reader.read_head(head, refusal), Step::ready);
  EXPECT_EQ(head.head.target, "/a");
  EXPECT_EQ(head.head.content_length, 5u);
  EXPECT_TRUE(head.has_body);
  EXPECT_EQ(read_whole_body(reader, 2, refusal), "hello");
  ASSERT_EQ(reader.read_head(head, refusal), Step::ready);
  EXPECT_EQ(head.head.target, "/b");
  EXPECT_TRUE(head.head.chunked);
  EXPECT_EQ(read_whole_body(reader, 100, refusal), "abcde");
  ASSERT_EQ(reader.read_head(head, refusal), Step::ready);
  EXPECT_EQ(head.head.target, "/c");
  EXPECT_FALSE(head.has_body);
  EXPECT_EQ(reader.read_head(head, refusal), Step::need_more);
  EXPECT_FALSE(refusal.refused());
}

TEST(RequestReader, HeadsAndBodiesArriveByteByByte) {
  std::string bytes = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n0\r\n\r\n";
  RequestReader reader({});
  RequestReader::Head head;
  HeadVerdict refusal;
  std::size_t i = 0;
  for (; i < bytes.size(); ++i) {
    feed(reader, bytes.substr(i, 1));
    if (reader.read_head(head, refusal) == Step::ready) break;
    ASSERT_FALSE(refusal.refused());
  }
  ASSERT_LT(i, bytes.size());
  std::string body;
  for (++i; i < bytes.size(); ++i) {
    feed(reader, bytes.substr(i, 1));
    RequestReader::BodyPiece piece;
    ASSERT_NE(reader.read_body(64, piece, refusal), Step::refused);
    body += piece.data;
    if (piece.done) break;
  }
  EXPECT_EQ(body, "hello");
  EXPECT_EQ(i, bytes.size() - 1);
}

TEST(RequestReader, RefusesAmbiguousFramingBeforeAnyBody) {
  RequestReader reader({});
  feed(reader, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n"
               "Content-Length: 4\r\n\r\n34\r\nGET /hidden HTTP/1.1\r\n\r\n");
  RequestReader::Head head;
  HeadVerdict refusal;
  EXPECT_EQ(reader.read_head(head, refusal), Step::refused);
  EXPECT_EQ(refusal.status, 400);
  EXPECT_EQ(head.head.target, "/a");  // for the access log
}

TEST(RequestReader, Http10WithChunkedIsNotKeptAlive) {
  RequestReader reader({});
  feed(reader, "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\n");
  RequestReader::Head head;
  HeadVerdict refusal;
  ASSERT_EQ(reader.read_head(head, refusal), Step::ready);
  EXPECT_FALSE(head.keep_alive);
}

TEST(RequestReader, BodyLimits) {
  RequestReader reader({64 * 1024, 100, 10});
  feed(reader, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
  RequestReader::Head head;
  HeadVerdict refusal;
  EXPECT_EQ(reader.read_head(head, refusal), Step::refused);
  EXPECT_EQ(refusal.status, 413);

  RequestReader chunked({64 * 1024, 100, 10});
  feed(chunked, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n");
  refusal = {};
  ASSERT_EQ(chunked.read_head(head, refusal), Step::ready);
  read_whole_body(chunked, 100, refusal);
  EXPECT_EQ(refusal.status, 413);
}

TEST(RequestReader, AChunkLineThatNeverEndsIsRefusedAtSixteenKiB) {
  RequestReader reader({});
  feed(reader, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;");
  RequestReader::Head head;
  HeadVerdict refusal;
  ASSERT_EQ(reader.read_head(head, refusal), Step::ready);
  RequestReader::BodyPiece piece;
  feed(reader, std::string(8 * 1024, 'a'));
  EXPECT_EQ(reader.read_body(64, piece, refusal), Step::need_more);
  feed(reader, std::string(8 * 1024, 'a'));
  EXPECT_EQ(reader.read_body(64, piece, refusal), Step::refused);
  EXPECT_EQ(refusal.status, 400);
}

TEST(RequestReader, InvalidChunksAreRefused) {
  for (const char* body : {"zz\r\n", "5\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n",
                           "5 \r\nhello\r\n0\r\n\r\n"}) {
    RequestReader reader({});
    feed(reader, std::string("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n") +
                     body);
    RequestReader::Head head;
    HeadVerdict refusal;
    ASSERT_EQ(reader.read_head(head, refusal), Step::ready) << body;
    read_whole_body(reader, 100, refusal);
    EXPECT_EQ(refusal.status, 400) << body;
  }
}

}  // namespace
}  // namespace puff::http
