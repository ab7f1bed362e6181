#include "redis/connection.h"

#include "redis/redistest_support.h"

namespace puff::redis {
namespace {

using namespace testing;


TEST(RedisConnection, SetGetBinaryAndLarge) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto c = connected(io.context());
  const std::string k = test_key("binary");
  const std::string value("\0\r\n$-1\r\n\xff binary", 17);
  auto set = run(*c, {"SET", k, value});
  ASSERT_FALSE(set.error) << set.error->message;
  EXPECT_EQ(set.reply.type, Reply::Type::status);
  EXPECT_EQ(set.reply.str, "OK");
  auto get = run(*c, {"GET", k});
  ASSERT_FALSE(get.error);
  EXPECT_EQ(get.reply.type, Reply::Type::string);
  EXPECT_EQ(get.reply.str, value);

  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  ASSERT_FALSE(run(*c, {"SET", k, big}).error);
  auto got = run(*c, {"GET", k});
  ASSERT_FALSE(got.error);
  EXPECT_EQ(got.reply.str.size(), big.size());
  EXPECT_TRUE(got.reply.str == big);
  EXPECT_EQ(run(*c, {"DEL", k}).reply.integer, 1);
  c->close();
}

TEST(RedisConnection, NilIntegerArrayNested) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto c = connected(io.context());
  const std::string a = test_key("a"), b = test_key("b"), missing = test_key("missing");
  EXPECT_TRUE(run(*c, {"GET", missing}).reply.is_nil());
  auto incr = run(*c, {"INCRBY", a, "41"});
  EXPECT_EQ(incr.reply.type, Reply::Type::integer);
  EXPECT_EQ(incr.reply.integer, 41);
  EXPECT_EQ(run(*c, {"INCR", a}).reply.integer, 42);
  run(*c, {"SET", b, "bee"});
  auto mget = run(*c, {"MGET", a, missing, b});
  ASSERT_EQ(mget.reply.type, Reply::Type::array);
  EXPECT_EQ(describe(mget.reply), "[\"42\", nil, \"bee\"]");
  auto nested = run(*c, {"EVAL", "return {1, {'x', {2}}, 'y'}", "0"});
  EXPECT_EQ(describe(nested.reply), "[1, [\"x\", [2]], \"y\"]");
  auto empty = run(*c, {"MGET", missing, missing});
  EXPECT_EQ(describe(empty.reply), "[nil, nil]");
  run(*c, {"DEL", a, b});
}

// hiredis 0.14's reader keeps a stack of 9 tasks: arrays nest 8 deep at most.
TEST(RedisConnection, NestingBeyondTheReadersLimitIsAProtocolError) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto c = connected(io.context());
  auto nested = [](int depth) {
    return "return " + std::string(depth, '{') + "1" + std::string(depth, '}');
  };
  auto eight = run(*c, {"EVAL", nested(8), "0"});
  ASSERT_FALSE(eight.error);
  EXPECT_EQ(describe(eight.reply), "[[[[[[[[1]]]]]]]]");
  auto nine = run(*c, {"EVAL", nested(9), "0"});
  ASSERT_TRUE(nine.error);
  EXPECT_EQ(nine.error->kind, Error::Kind::protocol_error);
  EXPECT_NE(nine.error->message.find("invalid reply: No support for nested multi bulk replies"),
            std::string::npos)
      << nine.error->message;
  EXPECT_FALSE(c->is_open());
}

TEST(RedisConnection, ErrorReplyLeavesConnectionUsable) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto c = connected(io.context());
  const std::string k = test_key("list");
  run(*c, {"DEL", k});
  run(*c, {"LPUSH", k, "x"});
  auto wrong = run(*c, {"INCR", k});
  ASSERT_FALSE(wrong.error);  // a server error is a reply, not a failure of the connection
  EXPECT_TRUE(wrong.reply.is_error());
  EXPECT_EQ(wrong.reply.str.rfind("WRONGTYPE", 0), 0u) << wrong.reply.str;
  auto unknown = run(*c, {"NOSUCHCOMMAND"});
  EXPECT_TRUE(unknown.reply.is_error());
  EXPECT_EQ(run(*c, {"LLEN", k}).reply.integer, 1);
  EXPECT_TRUE(c->is_open());
  run(*c, {"DEL", k});
}

TEST(RedisConnection, PipelinedRepliesMatchInOrder) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto c = connected(io.context());
  constexpr int kCount = 500;
  std::vector<std::promise<Outcome>> results(kCount);
  const std::string k = test_key("counter");
  run(*c, {"DEL", k});
  for (int i = 0; i < kCount; ++i) {
    c->execute({"INCR", k}, [&results, i](std::optional<Error> e, Reply r) {
      results[i].set_value(Outcome{std::move(e), std::move(r)});
    });
  }
  for (int i = 0; i < kCount; ++i) {
    auto f = results[i].get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    auto o = f.get();
    ASSERT_FALSE(o.error);
    EXPECT_EQ(o.reply.integer, i + 1);  // the i-th command's own reply
  }
  EXPECT_LT(c->counters().writes.load(), static_cast<std::uint64_t>(kCount) / 2);
  run(*c, {"DEL", k});
}

TEST(RedisConnection, BatchRepliesInOrderWithServerErrorsAsReplies) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto c = connected(io.context());
  const std::string k = test_key("batch"), list = test_key("batch-list");
  run(*c, {"DEL", k, list});
  run(*c, {"LPUSH", list, "x"});
  auto o = run_batch(*c, {{"SET", k, "1"}, {"INCR", list}, {"INCRBY", k, "41"}, {"GET", k}});
  ASSERT_FALSE(o.error);
  ASSERT_EQ(o.replies.size(), 4u);
  EXPECT_EQ(o.replies[0].str, "OK");
  EXPECT_TRUE(o.replies[1].is_error());  // WRONGTYPE: a reply, the batch goes on
  EXPECT_EQ(o.replies[2].integer, 42);
  EXPECT_EQ(o.replies[3].str, "42");
  run(*c, {"DEL", k, list});
  EXPECT_THROW(c->execute_batch({}, [](std::optional<Error>, std::vector<Reply>) {}), UsageError);
  EXPECT_THROW(c->execute_batch({{"PING"}, {}}, [](std::optional<Error>, std::vector<Reply>) {}),
               UsageError);
  c->close();
  auto closed = run_batch(*c, {{"PING"}});
  ASSERT_TRUE(closed.error);
  EXPECT_EQ(closed.error->kind, Error::Kind::closed);
}

TEST(RedisConnection, BatchFailsOnceWhenItTimesOut) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server("--enable-debug-command yes");
  core::IoThreads io(1);
  auto c = Connection::create(io.context(), options_for(server.url(), 0.2));
  ASSERT_FALSE(connect_sync(*c));
  std::atomic<int> calls{0};
  auto done = std::make_shared<std::promise<BatchOutcome>>();
  c->execute_batch({{"PING"}, {"DEBUG", "SLEEP", "0.6"}, {"PING"}},
                   [&calls, done](std::optional<Error> e, std::vector<Reply> r) {
                     if (calls.fetch_add(1) == 0) done->set_value({std::move(e), std::move(r)});
                   });
  auto f = done->get_future();
  ASSERT_EQ(f.wait_for(3s), std::future_status::ready);
  auto o = f.get();
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, Error::Kind::timeout);
  // (The first PING's reply never arrived: Redis flushes replies after the whole read batch,
  // DEBUG SLEEP included.)
  EXPECT_EQ(o.replies.size(), 3u);
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(calls.load(), 1);
}

TEST(RedisConnection, DbSelectionAndUnixSocket) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server;
  core::IoThreads io(1);
  auto db3 = connected(io.context(), "unix://" + server.socket_path() + "?db=3");
  ASSERT_TRUE(db3->is_open());
  EXPECT_EQ(db3->where(), server.socket_path());
  ASSERT_FALSE(run(*db3, {"SET", "k", "in db 3"}).error);
  auto db0 = connected(io.context(), server.url());
  EXPECT_TRUE(run(*db0, {"GET", "k"}).reply.is_nil());
  auto tcp3 = connected(io.context(), "redis://127.0.0.1:" + std::to_string(server.port()) + "/3");
  EXPECT_EQ(run(*tcp3, {"GET", "k"}).reply.str, "in db 3");

  auto out_of_range = Connection::create(
      io.context(), options_for("redis://127.0.0.1:" + std::to_string(server.port()) + "/99"));
  auto error = connect_sync(*out_of_range);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::connect_failed);
  EXPECT_NE(error->message.find("SELECT 99 failed: ERR DB index is out of range"), std::string::npos)
      << error->message;
}

TEST(RedisConnection, RefusedAndUnresolvable) {
  core::IoThreads io(1);
  const int port = unused_port();
  auto c = Connection::create(io.context(),
                              options_for("redis://127.0.0.1:" + std::to_string(port)));
  const auto started = std::chrono::steady_clock::now();
  auto error = connect_sync(*c);
  ASSERT_TRUE(error);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(error->kind, Error::Kind::connect_failed);
  EXPECT_EQ(error->message, "Redis at 127.0.0.1:" + std::to_string(port) +
                                ": connection refused; is redis-server running there?");
  auto later = run(*c, {"PING"});
  ASSERT_TRUE(later.error);
  EXPECT_EQ(later.error->kind, Error::Kind::closed);

  auto nowhere = Connection::create(io.context(), options_for("redis://no-such-host.invalid:6379"));
  error = connect_sync(*nowhere);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("cannot resolve 'no-such-host.invalid'"), std::string::npos)
      << error->message;

  auto missing_socket = Connection::create(io.context(), options_for("unix:///nonexistent/redis.sock"));
  error = connect_sync(*missing_socket);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::connect_failed);
  EXPECT_NE(error->message.find("/nonexistent/redis.sock: no such file"), std::string::npos)
      << error->message;
}

// A server that accepts and never answers: the handshake's PING waits for nothing.
TEST(RedisConnection, ConnectTimeoutOnSilentServer) {
  FakeServer server([](const std::string&) -> std::optional<std::string> { return ""; });
  core::IoThreads io(1);
  auto options = options_for(server.url());
  options.connect_timeout_s = 0.3;
  auto c = Connection::create(io.context(), options);
  const auto started = std::chrono::steady_clock::now();
  auto error = connect_sync(*c);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::timeout);
  EXPECT_NE(error->message.find("connecting timed out after 0.3 s"), std::string::npos)
      << error->message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST(RedisConnection, CommandTimeoutClosesAndFailsTheRest) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server("--enable-debug-command yes");
  core::IoThreads io(1);
  auto c = Connection::create(io.context(), options_for(server.url(), 0.2));
  ASSERT_FALSE(connect_sync(*c));
  auto closed = std::make_shared<std::promise<Error>>();
  auto watched = Connection::create(io.context(), options_for(server.url(), 0.2));
  auto connected_once = std::make_shared<std::promise<std::optional<Error>>>();
  watched->connect([connected_once](std::optional<Error> e) { connected_once->set_value(e); },
                   [closed](const Error& e) { closed->set_value(e); });
  ASSERT_FALSE(connected_once->get_future().get());

  auto sleeping = std::make_shared<std::promise<Outcome>>();
  auto behind = std::make_shared<std::promise<Outcome>>();
  watched->execute({"DEBUG", "SLEEP", "1"},
                   [sleeping](std::optional<Error> e, Reply r) { sleeping->set_value({e, r}); });
  // Queued behind it with a longer timeout of its own: it fails because the connection closed.
  watched->execute({"PING"}, [behind](std::optional<Error> e, Reply r) { behind->set_value({e, r}); },
                   5.0);
  auto slept = sleeping->get_future();
  ASSERT_EQ(slept.wait_for(3s), std::future_status::ready);
  auto timed_out = slept.get();
  ASSERT_TRUE(timed_out.error);
  EXPECT_EQ(timed_out.error->kind, Error::Kind::timeout);
  EXPECT_NE(timed_out.error->message.find("no reply to DEBUG within 0.2 s"), std::string::npos)
      << timed_out.error->message;
  auto next = behind->get_future();
  ASSERT_EQ(next.wait_for(3s), std::future_status::ready);
  auto lost = next.get();
  ASSERT_TRUE(lost.error);
  EXPECT_EQ(lost.error->kind, Error::Kind::connection_lost);
  auto handler = closed->get_future();
  ASSERT_EQ(handler.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(handler.get().kind, Error::Kind::connection_lost);
  EXPECT_FALSE(watched->is_open());

  // A per-command timeout of 0 waits as long as it takes (a dedicated BLPOP's case).
  std::this_thread::sleep_for(1s);  // the server is still asleep for the other connection
  auto patient = run(*c, {"DEBUG", "SLEEP", "0.4"}, 0);
  EXPECT_FALSE(patient.error) << patient.error->message;
  EXPECT_TRUE(c->is_open());
}

TEST(RedisConnection, CloseFailsInFlightOnceAndLaterCommands) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto c = connected(io.context());
  std::atomic<int> calls{0};
  auto done = std::make_shared<std::promise<Outcome>>();
  c->execute({"BLPOP", test_key("never"), "2"}, [&calls, done](std::optional<Error> e, Reply r) {
    if (calls.fetch_add(1) == 0) done->set_value({e, r});
  }, 0);
  std::this_thread::sleep_for(50ms);
  c->close();
  auto f = done->get_future();
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  auto o = f.get();
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, Error::Kind::closed);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(calls.load(), 1);
  auto after = run(*c, {"PING"});
  ASSERT_TRUE(after.error);
  EXPECT_EQ(after.error->kind, Error::Kind::closed);
  EXPECT_THROW(c->connect([](std::optional<Error>) {}), UsageError);
  EXPECT_THROW(c->execute({}, [](std::optional<Error>, Reply) {}), UsageError);
}

TEST(RedisConnection, InvalidReplyClosesWithProtocolError) {
  FakeServer server([](const std::string& chunk) -> std::optional<std::string> {
    if (chunk.find("PING") != std::string::npos) return "+PONG\r\n";
    return "!not-resp\r\n";
  });
  core::IoThreads io(1);
  auto c = connected(io.context(), server.url());
  auto o = run(*c, {"GET", "k"});
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, Error::Kind::protocol_error);
  EXPECT_NE(o.error->message.find("invalid reply: "), std::string::npos) << o.error->message;
  EXPECT_FALSE(c->is_open());
}

TEST(RedisConnection, UnrequestedReplyClosesWithProtocolError) {
  FakeServer server([](const std::string& chunk) -> std::optional<std::string> {
    if (chunk.find("PING") != std::string::npos) return "+PONG\r\n";
    return "$1\r\nv\r\n:7\r\n";  // one reply too many
  });
  core::IoThreads io(1);
  auto c = connected(io.context(), server.url());
  auto o = run(*c, {"GET", "k"});
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.reply.str, "v");
  for (int i = 0; i < 100 && c->is_open(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(c->is_open());
  EXPECT_EQ(run(*c, {"GET", "k"}).error->kind, Error::Kind::closed);
}

TEST(RedisConnection, HangUpDuringHandshakeFailsTheConnect) {
  FakeServer server([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  core::IoThreads io(1);
  auto c = Connection::create(io.context(), options_for(server.url()));
  auto error = connect_sync(*c);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::connect_failed);
  EXPECT_NE(error->message.find("the server closed the connection"), std::string::npos)
      << error->message;
  EXPECT_FALSE(c->is_open());
}

TEST(RedisConnection, CloseWhileConnectingAnswersTheConnect) {
  FakeServer server([](const std::string&) -> std::optional<std::string> { return ""; });
  core::IoThreads io(1);
  auto c = Connection::create(io.context(), options_for(server.url()));
  auto done = std::make_shared<std::promise<std::optional<Error>>>();
  c->connect([done](std::optional<Error> e) { done->set_value(std::move(e)); });
  std::this_thread::sleep_for(100ms);  // connected, waiting for PONG
  c->close();
  auto f = done->get_future();
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  auto error = f.get();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::closed);
}

TEST(RedisConnection, ThrowingCallbackDoesNotBreakTheConnection) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto c = connected(io.context());
  c->execute({"PING"}, [](std::optional<Error>, Reply) { throw std::runtime_error("boom"); });
  auto o = run(*c, {"ECHO", "still here"});
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.reply.str, "still here");
}

TEST(RedisConnection, NoFdLeak) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  connected(io.context())->close();  // the reactor opens its descriptors on first use
  std::this_thread::sleep_for(50ms);
  const int before = open_fd_count();
  for (int i = 0; i < 20; ++i) {
    auto c = connected(io.context());
    EXPECT_FALSE(run(*c, {"PING"}).error);
    if (i % 2) c->close();  // the others just go out of scope
  }
  EXPECT_EQ(settle_fds(before), before);
}

}  // namespace
}  // namespace puff::redis
