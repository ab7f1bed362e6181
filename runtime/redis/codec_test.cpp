// No server needed: RESP encoding/decoding, reply descriptions, command classification.
#include <gtest/gtest.h>

#include "redis/commands.h"
#include "redis/detail/codec.h"
#include "redis/error.h"
#include "redis/reply.h"

namespace puff::redis {
namespace {

using detail::ReplyReader;

std::vector<Reply> parse_all(const std::string& wire, ReplyReader::Status* last = nullptr) {
  ReplyReader reader;
  std::vector<Reply> out;
  EXPECT_TRUE(reader.feed(wire.data(), wire.size()));
  for (;;) {
    Reply r;
    auto status = reader.next(r);
    if (last) *last = status;
    if (status != ReplyReader::Status::reply) break;
    out.push_back(std::move(r));
  }
  return out;
}

TEST(RedisCodec, CommandIsBinarySafeResp) {
  std::string out;
  const std::string value("a\0b\r\n", 5);
  detail::append_command(out, {"SET", "k", value});
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n", 31));
  // A command is itself a RESP array of bulk strings: the reader gives the arguments back.
  detail::append_command(out, {"GET", ""});
  auto replies = parse_all(out);
  ASSERT_EQ(replies.size(), 2u);
  ASSERT_EQ(replies[0].type, Reply::Type::array);
  EXPECT_EQ(replies[0].elements[2].str, value);
  EXPECT_EQ(replies[1].elements[1].str, "");
}

TEST(RedisCodec, ManyArguments) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back("key" + std::to_string(i));
  std::vector<std::string_view> args{"MGET"};
  args.insert(args.end(), keys.begin(), keys.end());
  std::string out;
  detail::append_command(out, args);
  auto replies = parse_all(out);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].elements.size(), 41u);
  EXPECT_EQ(replies[0].elements[40].str, "key39");
}

TEST(RedisCodec, ReplyTypes) {
  auto replies = parse_all(
      "+OK\r\n:-42\r\n$-1\r\n-WRONGTYPE Operation against a key\r\n*2\r\n*1\r\n:1\r\n$2\r\nhi\r\n"
      "$3\r\nab");  // the last reply is incomplete
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[0].type, Reply::Type::status);
  EXPECT_EQ(replies[0].str, "OK");
  EXPECT_EQ(replies[1].integer, -42);
  EXPECT_TRUE(replies[2].is_nil());
  EXPECT_TRUE(replies[3].is_error());
  EXPECT_EQ(replies[3].str, "WRONGTYPE Operation against a key");
  EXPECT_EQ(describe(replies[4]), "[[1], \"hi\"]");
}

TEST(RedisCodec, RepliesSplitAnywhere) {
  const std::string wire = "$5\r\nhello\r\n*2\r\n:7\r\n+PONG\r\n";
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    ReplyReader reader;
    std::vector<Reply> got;
    for (const std::string& part : {wire.substr(0, cut), wire.substr(cut)}) {
      ASSERT_TRUE(reader.feed(part.data(), part.size()));
      Reply r;
      while (reader.next(r) == ReplyReader::Status::reply) got.push_back(r);
    }
    ASSERT_EQ(got.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(got[0].str, "hello");
    EXPECT_EQ(got[1].elements[1].str, "PONG");
  }
}

TEST(RedisCodec, ProtocolError) {
  ReplyReader::Status last{};
  auto replies = parse_all(":1\r\n!bogus\r\n", &last);
  EXPECT_EQ(replies.size(), 1u);
  EXPECT_EQ(last, ReplyReader::Status::protocol_error);
}

TEST(RedisReply, Describe) {
  EXPECT_EQ(describe(Reply{}), "nil");
  EXPECT_EQ(describe(Reply::make_integer(3)), "3");
  EXPECT_EQ(describe(Reply::make_string(std::string("a\"\0", 3))), "\"a\\\"\\x00\"");
  EXPECT_EQ(describe(Reply::make_string(std::string(100, 'x')), 4), "\"xxxx\"...(100 bytes)");
}

TEST(RedisError, KindNames) {
  EXPECT_STREQ(kind_name(Error::Kind::connect_failed), "connect_failed");
  EXPECT_STREQ(kind_name(Error::Kind::connection_lost), "connection_lost");
  EXPECT_STREQ(kind_name(Error::Kind::timeout), "timeout");
  EXPECT_STREQ(kind_name(Error::Kind::unavailable), "unavailable");
  EXPECT_STREQ(kind_name(Error::Kind::refused), "refused");
  EXPECT_STREQ(kind_name(Error::Kind::protocol_error), "protocol_error");
  EXPECT_STREQ(kind_name(Error::Kind::closed), "closed");
}

TEST(RedisCommands, Classify) {
  using K = CommandKind;
  EXPECT_EQ(classify_command({"get", "k"}), K::plain);
  EXPECT_EQ(classify_command({"EVAL", "return 1", "0"}), K::plain);
  EXPECT_EQ(classify_command({"multi"}), K::transaction);
  EXPECT_EQ(classify_command({"Exec"}), K::transaction);
  EXPECT_EQ(classify_command({"WATCH", "k"}), K::transaction);
  EXPECT_EQ(classify_command({"blpop", "k", "0"}), K::blocking);
  EXPECT_EQ(classify_command({"WAIT", "1", "0"}), K::blocking);
  EXPECT_EQ(classify_command({"XREAD", "COUNT", "1", "block", "0", "STREAMS", "s", "$"}),
            K::blocking);
  EXPECT_EQ(classify_command({"XREAD", "STREAMS", "block", "0"}), K::plain);  // a stream "block"
  EXPECT_EQ(classify_command({"select", "1"}), K::session);
  EXPECT_EQ(classify_command({"SUBSCRIBE", "ch"}), K::session);
  EXPECT_EQ(classify_command({"CLIENT", "reply", "OFF"}), K::session);
  EXPECT_EQ(classify_command({"CLIENT", "LIST"}), K::plain);
  EXPECT_EQ(classify_command({std::string(100, 'M')}), K::plain);
  EXPECT_STREQ(command_kind_name(K::blocking), "blocking");
}

}  // namespace
}  // namespace puff::redis
