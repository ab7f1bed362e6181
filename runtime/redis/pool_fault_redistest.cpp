// Pools against servers that misbehave: slow commands, restarts, wrong passwords, nobody there.
// Each test starts a redis-server of its own (ThrowawayRedis) or uses a port nobody listens on.
#include "redis/pool.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "redis/redistest_support.h"

namespace puff::redis {
namespace {

using namespace testing;

using Clock = std::chrono::steady_clock;

TEST(RedisPoolFaults, CommandTimeoutThenRecovery) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server("--enable-debug-command yes");
  core::IoThreads io(2);
  auto options = pool_options("slow", server.url(), 1);
  options.command_timeout_s = 0.2;
  auto pool = Pool::create(io.context(), options);
  ASSERT_FALSE(run(*pool, {"SET", "k", "v"}).error);

  const auto started = Clock::now();
  auto slow = run(*pool, {"DEBUG", "SLEEP", "1"});
  ASSERT_TRUE(slow.error);
  EXPECT_LT(Clock::now() - started, 900ms);
  EXPECT_EQ(slow.error->kind, Error::Kind::timeout);
  EXPECT_EQ(slow.error->message,
            "Redis pool 'slow' at 127.0.0.1:" + std::to_string(server.port()) +
                ": no reply to DEBUG within 0.2 s (command_timeout); the connection was closed, "
                "the command may or may not have run");
  // The pool reconnects on its own once the server answers again.
  auto back = run_until_ok(*pool, {"GET", "k"}, 5s);
  ASSERT_FALSE(back.error) << back.error->message;
  EXPECT_EQ(back.reply.str, "v");
  auto stats = pool->stats();
  EXPECT_EQ(stats.connected, 1);
  EXPECT_GE(stats.connections_lost_total, 1u);
}

TEST(RedisPoolFaults, ServerRestartFailsInFlightThenRecovers) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server("--enable-debug-command yes");
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), pool_options("restart", server.url(), 1));
  ASSERT_FALSE(run(*pool, {"SET", "k", "before"}).error);

  // Two commands in flight on the one connection when the server dies.
  auto first = std::make_shared<std::promise<Outcome>>();
  auto second = std::make_shared<std::promise<Outcome>>();
  std::atomic<int> answers{0};
  pool->execute({"DEBUG", "SLEEP", "3"}, [first, &answers](std::optional<Error> e, Reply r) {
    ++answers;
    first->set_value({e, r});
  });
  pool->execute({"GET", "k"}, [second, &answers](std::optional<Error> e, Reply r) {
    ++answers;
    second->set_value({e, r});
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(pool->stats().in_flight, 2u);
  server.kill_now();
  for (auto* p : {first.get(), second.get()}) {
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
    auto o = f.get();
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->kind, Error::Kind::connection_lost);
    EXPECT_NE(o.error->message.find("may or may not have run"), std::string::npos)
        << o.error->message;
  }

  // Down: commands fail fast, naming the pool, the server and the reason. (The first
  // reconnect may still be under way, or reach the dying server's listener and fail with
  // "connection reset by peer"; the retries then meet a closed port.)
  Outcome down;
  for (int i = 0; i < 100; ++i) {
    const auto started = Clock::now();
    down = run(*pool, {"GET", "k"});
    EXPECT_LT(Clock::now() - started, 1s);
    EXPECT_TRUE(down.error);
    if (down.error && down.error->message.find("refused") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(down.error);
  EXPECT_EQ(down.error->kind, Error::Kind::unavailable);
  EXPECT_EQ(down.error->message,
            "Redis pool 'restart' at 127.0.0.1:" + std::to_string(server.port()) +
                ": connection refused; is redis-server running there? (no connection is up; "
                "reconnecting in the background)");
  EXPECT_EQ(pool->stats().connected, 0);

  ASSERT_TRUE(server.start());
  auto back = run_until_ok(*pool, {"SET", "k", "after"}, 5s);
  ASSERT_FALSE(back.error) << back.error->message;
  EXPECT_EQ(run(*pool, {"GET", "k"}).reply.str, "after");
  EXPECT_EQ(pool->stats().connected, 1);
  EXPECT_TRUE(pool->stats().last_error.empty());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(answers.load(), 2);  // exactly once each
}

// Four threads keep commands in flight while the server is killed and restarted: every
// callback runs exactly once, nothing hangs, and commands succeed again afterwards.
TEST(RedisPoolFaults, RestartUnderConcurrentLoadAnswersEveryCommandOnce) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server;
  core::IoThreads io(2);
  auto options = pool_options("load", server.url(), 2);
  options.reconnect_backoff_max_s = 0.1;
  auto pool = Pool::create(io.context(), options);
  ASSERT_FALSE(run(*pool, {"SET", "k", "v"}).error);

  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;  // a cap: the threads stop after 1.5 s
  std::vector<std::atomic<int>> calls(kThreads * kPerThread);
  std::atomic<int> answered{0}, ok{0}, ok_after_restart{0}, odd_errors{0};
  std::atomic<bool> restarted{false};
  std::mutex odd_mutex;
  std::string first_odd;
  std::atomic<int> issued{0};
  std::vector<std::thread> threads;
  const auto until = Clock::now() + 1500ms;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread && Clock::now() < until; ++i) {
        while (issued.load() - answered.load() > 256) std::this_thread::yield();
        const int id = t * kPerThread + i;
        ++issued;
        pool->execute({"GET", "k"}, [&, id](std::optional<Error> e, Reply r) {
          ++calls[id];
          if (!e && r.str == "v") {
            ++ok;
            if (restarted.load()) ++ok_after_restart;
          } else if (!e ? !r.is_nil()  // nil: the restarted server before our SET
                        : e->kind != Error::Kind::connection_lost &&
                              e->kind != Error::Kind::unavailable) {
            if (++odd_errors == 1) {
              std::lock_guard lock(odd_mutex);
              first_odd = e ? std::string(kind_name(e->kind)) + ": " + e->message : describe(r);
            }
          }
          ++answered;
        });
        if (i % 16 == 0) std::this_thread::sleep_for(1ms);  // spread over the whole run
      }
    });
  }
  std::this_thread::sleep_for(400ms);
  server.kill_now();
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(server.start());
  // The server restarted empty: give it the key again before counting successes.
  ASSERT_FALSE(run_until_ok(*pool, {"SET", "k", "v"}, 5s).error);
  restarted = true;
  for (auto& t : threads) t.join();
  for (int i = 0; i < 500 && answered.load() < issued.load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(answered.load(), issued.load());
  int twice = 0;
  for (int i = 0; i < kThreads * kPerThread; ++i) twice += calls[i].load() > 1;
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(odd_errors.load(), 0) << first_odd;
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(ok_after_restart.load(), 0);
  std::printf("restart under load: %d commands, %d ok (%d after the restart), %llu connections "
              "lost\n",
              issued.load(), ok.load(), ok_after_restart.load(),
              static_cast<unsigned long long>(pool->stats().connections_lost_total));
}

// The number after "commands failed meanwhile: " in the log, or -1.
int failed_meanwhile(const std::string& log) {
  const std::string marker = "commands failed meanwhile: ";
  auto at = log.find(marker);
  return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + marker.size());
}

// Backoff paces connects only while nobody asks: with reconnect_backoff_max at 30 s and the
// backoff grown to it during the outage, the first command after the restart connects at once
// and succeeds. The outage is two log lines, whatever the number of failed commands.
TEST(RedisPoolFaults, FirstCommandAfterRestartSucceedsWithoutWaitingForTheBackoff) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server;
  core::IoThreads io(2);
  auto options = pool_options("recovery", server.url(), 2);
  options.reconnect_backoff_max_s = 30;
  auto pool = Pool::create(io.context(), options);
  core::testing::CapturedStderr log;
  ASSERT_FALSE(run(*pool, {"SET", "k", "v"}).error);

  server.stop();
  int unavailable = 0;
  for (int i = 0; i < 30; ++i) {  // 30 failed rounds: the backoff is at its 30 s cap
    auto down = run(*pool, {"GET", "k"});
    ASSERT_TRUE(down.error);
    unavailable += down.error->kind == Error::Kind::unavailable;
    std::this_thread::sleep_for(15ms);
  }
  EXPECT_GE(pool->stats().connect_failures_total, 30u);
  const std::string subject =
      "Redis pool 'recovery' at 127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(log.lines_with(subject + " lost its server: connection refused"), 1) << log.text();
  EXPECT_EQ(log.lines_with(subject), 1) << log.text();

  ASSERT_TRUE(server.start());
  std::this_thread::sleep_for(2 * Pool::kOnDemandSpacing);  // since the last failed connect
  auto back = run(*pool, {"SET", "k", "after"});
  ASSERT_FALSE(back.error) << back.error->message;
  EXPECT_EQ(run(*pool, {"GET", "k"}).reply.str, "after");
  EXPECT_EQ(log.lines_with(subject + " has its server back after "), 1) << log.text();
  EXPECT_EQ(log.lines_with(subject), 2) << log.text();
  EXPECT_EQ(failed_meanwhile(log.text()), unavailable) << log.text();
  EXPECT_GE(unavailable, 29);  // the first may have met the lost connection
  EXPECT_EQ(wait_connected(*pool, 2), 2);  // the other slot followed
}

// A server that accepts connections and never answers: the first command waits for its
// connect (connect_timeout), the next ones fail fast instead of each waiting as long again.
TEST(RedisPoolFaults, CommandsStopWaitingForConnectsThatTimeOut) {
  FakeServer silent([](const std::string&) { return std::string(); });
  core::IoThreads io(1);
  auto options = pool_options("silent", silent.url(), 1);
  options.connect_timeout_s = 1.0;
  auto pool = Pool::create(io.context(), options);
  auto first = run(*pool, {"PING"});
  ASSERT_TRUE(first.error);
  EXPECT_EQ(first.error->kind, Error::Kind::unavailable);
  EXPECT_NE(first.error->message.find("timed out after 1 s"), std::string::npos)
      << first.error->message;
  for (int i = 0; i < 3; ++i) {
    const auto started = Clock::now();
    auto o = run(*pool, {"PING"});
    EXPECT_LT(Clock::now() - started, 500ms);
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->kind, Error::Kind::unavailable);
  }
  pool->close();
}

TEST(RedisPoolFaults, WrongPasswordIsOneClearErrorWithoutThePassword) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server("--requirepass s3cret-pw");
  core::IoThreads io(1);
  const std::string where = "127.0.0.1:" + std::to_string(server.port());

  auto wrong = Pool::create(io.context(), pool_options("auth", server.url(":not-THE-pw"), 2));
  auto o = run(*wrong, {"PING"});
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->kind, Error::Kind::unavailable);
  EXPECT_EQ(o.error->message.rfind("Redis pool 'auth' at " + where + ": authentication failed: WRONGPASS", 0), 0u)
      << o.error->message;
  EXPECT_EQ(o.error->message.find("not-THE-pw"), std::string::npos);
  EXPECT_EQ(o.error->message.find("s3cret"), std::string::npos);
  // A pool that never connected fails fast from then on, with the same error.
  const auto started = Clock::now();
  auto again = run(*wrong, {"PING"});
  EXPECT_LT(Clock::now() - started, 100ms);
  ASSERT_TRUE(again.error);
  EXPECT_EQ(again.error->message, o.error->message);
  EXPECT_GE(wrong->stats().connect_failures_total, 2u);
  EXPECT_EQ(wrong->stats().last_error.find("not-THE-pw"), std::string::npos);

  auto none = Pool::create(io.context(), pool_options("noauth", server.url(), 1));
  o = run(*none, {"PING"});
  ASSERT_TRUE(o.error);
  EXPECT_NE(o.error->message.find("the server requires a password: NOAUTH"), std::string::npos)
      << o.error->message;
  EXPECT_NE(o.error->message.find("redis://:PASSWORD@host:port/db"), std::string::npos);

  auto lent = dedicated_sync(*wrong);
  ASSERT_TRUE(lent.error);
  EXPECT_EQ(lent.error->kind, Error::Kind::connect_failed);
  EXPECT_NE(lent.error->message.find("WRONGPASS"), std::string::npos) << lent.error->message;

  for (const std::string& userinfo : {std::string(":s3cret-pw"), std::string("default:s3cret-pw")}) {
    auto right = Pool::create(io.context(), pool_options("right", server.url(userinfo), 1));
    auto ok = run(*right, {"PING"});
    ASSERT_FALSE(ok.error) << ok.error->message;
    EXPECT_EQ(ok.reply.str, "PONG");
  }
}

TEST(RedisPoolFaults, UnreachableServerFailsFast) {
  core::IoThreads io(1);
  const int port = unused_port();
  auto pool = Pool::create(io.context(),
                           pool_options("nowhere", "redis://127.0.0.1:" + std::to_string(port), 2));
  const std::string expected = "Redis pool 'nowhere' at 127.0.0.1:" + std::to_string(port) +
                               ": connection refused; is redis-server running there? (no "
                               "connection is up; reconnecting in the background)";
  for (int i = 0; i < 5; ++i) {
    const auto started = Clock::now();
    auto o = run(*pool, {"GET", "k"});
    EXPECT_LT(Clock::now() - started, 500ms);
    ASSERT_TRUE(o.error);
    EXPECT_EQ(o.error->kind, Error::Kind::unavailable);
    EXPECT_EQ(o.error->message, expected);
  }
  // Backoff: a handful of attempts in 300 ms (50, 100, 200 ms ... capped at 0.2 s), not a storm.
  std::this_thread::sleep_for(300ms);
  const auto failures = pool->stats().connect_failures_total;
  EXPECT_GE(failures, 4u);
  EXPECT_LE(failures, 20u);
  auto lent = dedicated_sync(*pool);
  ASSERT_TRUE(lent.error);
  EXPECT_EQ(lent.error->kind, Error::Kind::connect_failed);
  pool->close();
}

TEST(RedisPoolFaults, UnixSocketPool) {
  PUFF_REQUIRE_REDIS();
  ThrowawayRedis server;
  core::IoThreads io(1);
  auto pool = Pool::create(io.context(),
                           pool_options("unix", "unix://" + server.socket_path() + "?db=5", 2));
  EXPECT_EQ(pool->where(), server.socket_path());
  ASSERT_FALSE(run(*pool, {"SET", "k", "five"}).error);
  auto db0 = Pool::create(io.context(), pool_options("tcp", server.url(), 1));
  EXPECT_TRUE(run(*db0, {"GET", "k"}).reply.is_nil());
  EXPECT_EQ(run(*db0, {"EXISTS", "k"}).reply.integer, 0);
  auto lent = dedicated_sync(*pool);
  ASSERT_FALSE(lent.error);
  EXPECT_EQ(run(lent.connection.connection(), {"GET", "k"}).reply.str, "five");  // db 5 too
}

}  // namespace
}  // namespace puff::redis
