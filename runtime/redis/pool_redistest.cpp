#include "redis/pool.h"

#include <atomic>
#include <thread>

#include "redis/redistest_support.h"

namespace puff::redis {
namespace {

using namespace testing;


TEST(RedisPool, PipelinesConcurrentCommandsFromManyThreads) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), pool_options("pipelining", test_url(), 2));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  constexpr int kCount = kThreads * kPerThread;
  std::vector<std::string> keys, values;
  std::vector<std::string_view> mset{"MSET"};
  for (int i = 0; i < kCount; ++i) {
    // Appended, not "k" + ...: GCC 12 warns -Wrestrict falsely on that.
    keys.push_back(test_key(std::to_string(i)));
    values.push_back(std::to_string(i * 7919));
    values.back() += ":value";
  }
  for (int i = 0; i < kCount; ++i) {
    mset.push_back(keys[i]);
    mset.push_back(values[i]);
  }
  auto stored = run(*pool, mset);
  ASSERT_FALSE(stored.error) << stored.error->message;
  ASSERT_EQ(wait_connected(*pool, 2), 2);
  const auto before = pool->stats();

  std::vector<std::promise<Outcome>> results(kCount);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kPerThread; ++j) {
        const int i = t * kPerThread + j;
        pool->execute({"GET", keys[i]}, [&results, i](std::optional<Error> e, Reply r) {
          results[i].set_value(Outcome{std::move(e), std::move(r)});
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  int matched = 0;
  for (int i = 0; i < kCount; ++i) {
    auto f = results[i].get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    auto o = f.get();
    ASSERT_FALSE(o.error) << o.error->message;
    if (o.reply.str == values[i]) ++matched;  // each GET got its own key's value
  }
  EXPECT_EQ(matched, kCount);
  const auto after = pool->stats();
  const auto commands = after.commands_total - before.commands_total;
  const auto writes = after.writes_total - before.writes_total;
  EXPECT_EQ(commands, static_cast<std::uint64_t>(kCount));
  EXPECT_LT(writes, static_cast<std::uint64_t>(kCount) / 5) << writes << " writes";
  std::printf("pipelining: %llu commands in %llu writes\n",
              static_cast<unsigned long long>(commands), static_cast<unsigned long long>(writes));
  std::vector<std::string_view> del{"DEL"};
  del.insert(del.end(), keys.begin(), keys.end());
  EXPECT_EQ(run(*pool, del).reply.integer, kCount);
  EXPECT_EQ(pool->stats().in_flight, 0u);
}

TEST(RedisPool, RefusesCommandsThatNeedTheirOwnConnection) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto pool = Pool::create(io.context(), pool_options("shared", test_url()));
  for (std::vector<std::string_view> args :
       {std::vector<std::string_view>{"MULTI"}, {"watch", "k"}, {"BLPOP", "k", "0"},
        {"SELECT", "1"}, {"SUBSCRIBE", "ch"}, {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}}) {
    auto o = run(*pool, args);
    ASSERT_TRUE(o.error) << args[0];
    EXPECT_EQ(o.error->kind, Error::Kind::refused);
    EXPECT_NE(o.error->message.find("use a dedicated connection"), std::string::npos)
        << o.error->message;
    EXPECT_EQ(o.error->message.rfind("Redis pool 'shared' at ", 0), 0u) << o.error->message;
  }
  EXPECT_EQ(pool->stats().commands_total, 0u);  // refused before anything was sent
}

// MULTI ... EXEC as one batch on the shared connections, while other threads INCR the same key
// there: none of theirs lands inside a transaction (they would get QUEUED, and EXEC's results
// would change).
TEST(RedisPool, TransactionBatchOnSharedConnectionsIsNeverInterleaved) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), pool_options("batch-tx", test_url(), 2));
  const std::string k = test_key("batch-tx");
  ASSERT_EQ(wait_connected(*pool, 2), 2);
  std::atomic<bool> stop{false};
  std::atomic<int> others_queued{0}, others_done{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&] {
      while (!stop.load()) {
        std::promise<void> answered;
        pool->execute({"INCR", k}, [&](std::optional<Error> e, Reply r) {
          if (!e && r.type != Reply::Type::integer) ++others_queued;
          ++others_done;
          answered.set_value();
        });
        answered.get_future().wait();
      }
    });
  }
  int exact = 0;
  constexpr int kTransactions = 200;
  for (int i = 0; i < kTransactions; ++i) {
    auto o = run_batch(*pool, {{"MULTI"}, {"SET", k, "0"}, {"INCR", k}, {"INCR", k}, {"GET", k},
                               {"exec"}});
    ASSERT_FALSE(o.error) << o.error->message;
    ASSERT_EQ(o.replies.size(), 6u);
    if (describe(o.replies[5]) == "[OK, 1, 2, \"2\"]") ++exact;
  }
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(exact, kTransactions);
  EXPECT_EQ(others_queued.load(), 0);
  EXPECT_GT(others_done.load(), 0);
  run(*pool, {"DEL", k});
}

TEST(RedisPool, BatchRefusalsAndFirstConnect) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto pool = Pool::create(io.context(), pool_options("batch", test_url()));
  const std::string k = test_key("batch");
  // A fresh pool: the batch waits for the first connect, then runs in one round trip.
  auto o = run_batch(*pool, {{"SET", k, "a"}, {"APPEND", k, "b"}, {"GET", k}, {"DEL", k}});
  ASSERT_FALSE(o.error) << o.error->message;
  EXPECT_EQ(describe(o.replies[2]), "\"ab\"");
  for (std::vector<Connection::Command> batch :
       {std::vector<Connection::Command>{{"WATCH", k}, {"MULTI"}, {"EXEC"}},
        {{"GET", k}, {"MULTI"}, {"EXEC"}},  // MULTI must come first
        {{"MULTI"}, {"INCR", k}},           // and EXEC last
        {{"MULTI"}, {"BLPOP", k, "0"}, {"EXEC"}},
        {{"SELECT", "2"}}}) {
    auto refused = run_batch(*pool, batch);
    ASSERT_TRUE(refused.error);
    EXPECT_EQ(refused.error->kind, Error::Kind::refused) << refused.error->message;
  }
  EXPECT_EQ(run(*pool, {"EXISTS", k}).reply.integer, 0);  // nothing of those ran
}

TEST(RedisPool, DedicatedConnectionForMultiExec) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), pool_options("tx", test_url()));
  const std::string k = test_key("tx");
  run(*pool, {"DEL", k});
  auto lent = dedicated_sync(*pool);
  ASSERT_FALSE(lent.error) << lent.error->message;
  Connection* first = &lent.connection.connection();
  EXPECT_EQ(pool->stats().dedicated_in_use, 1);
  auto& tx = lent.connection;
  EXPECT_EQ(run(tx.connection(), {"MULTI"}).reply.str, "OK");
  EXPECT_EQ(run(tx.connection(), {"INCR", k}).reply.str, "QUEUED");
  // Shared traffic meanwhile does not land in the transaction.
  EXPECT_EQ(run(*pool, {"SET", k, "10"}).reply.str, "OK");
  EXPECT_EQ(run(tx.connection(), {"INCRBY", k, "5"}).reply.str, "QUEUED");
  auto exec = run(tx.connection(), {"EXEC"});
  EXPECT_EQ(describe(exec.reply), "[11, 16]");
  tx.release();
  EXPECT_FALSE(tx);
  auto stats = pool->stats();
  EXPECT_EQ(stats.dedicated_in_use, 0);
  EXPECT_EQ(stats.dedicated_idle, 1);

  // A clean connection is lent again; one left inside MULTI (or WATCH) is closed instead.
  auto again = dedicated_sync(*pool);
  ASSERT_FALSE(again.error);
  EXPECT_EQ(&again.connection.connection(), first);
  run(again.connection.connection(), {"WATCH", k});
  std::weak_ptr<Connection> watched = again.connection.connection().shared_from_this();
  again.connection.release();
  EXPECT_EQ(pool->stats().dedicated_idle, 0);
  for (int i = 0; i < 100 && !watched.expired(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(watched.expired());  // closed and gone
  run(*pool, {"DEL", k});
  EXPECT_THROW(tx.connection(), UsageError);
}

TEST(RedisPool, DedicatedConnectionForBlockingCommands) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), pool_options("blocking", test_url()));
  const std::string k = test_key("queue");
  run(*pool, {"DEL", k});
  auto lent = dedicated_sync(*pool);
  ASSERT_FALSE(lent.error);
  auto popped = std::make_shared<std::promise<Outcome>>();
  lent.connection.execute({"BLPOP", k, "0"},  // waits forever: no command timeout either
                          [popped](std::optional<Error> e, Reply r) { popped->set_value({e, r}); },
                          0);
  auto f = popped->get_future();
  EXPECT_EQ(f.wait_for(200ms), std::future_status::timeout);
  // The shared connections keep working while it blocks.
  EXPECT_EQ(run(*pool, {"RPUSH", k, "job"}).reply.integer, 1);
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(describe(f.get().reply), "[\"" + k + "\", \"job\"]");
}

TEST(RedisPool, StatsAndClose) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(1);
  auto pool = Pool::create(io.context(), pool_options("stats", test_url(), 3));
  auto s = pool->stats();
  EXPECT_EQ(s.name, "stats");
  EXPECT_EQ(s.size, 3);
  EXPECT_EQ(s.connected, 0);  // nothing opened before the first command or start()
  EXPECT_FALSE(run(*pool, {"PING"}).error);
  EXPECT_EQ(wait_connected(*pool, 3), 3);
  s = pool->stats();
  EXPECT_EQ(s.connects_total, 3u);
  EXPECT_EQ(s.commands_total, 3u * 1 + 1);  // each connect's PING, and ours
  EXPECT_TRUE(s.last_error.empty());
  EXPECT_EQ(s.where, test_url().substr(8, test_url().rfind('/') - 8));

  pool->close();
  auto after = run(*pool, {"PING"});
  ASSERT_TRUE(after.error);
  EXPECT_EQ(after.error->kind, Error::Kind::closed);
  EXPECT_EQ(after.error->message, "Redis pool 'stats' is closed");
  auto lent = dedicated_sync(*pool);
  ASSERT_TRUE(lent.error);
  EXPECT_EQ(lent.error->kind, Error::Kind::closed);
  EXPECT_EQ(pool->stats().connected, 0);
}

TEST(RedisPool, CreateRejectsBadSettingsWithoutThePassword) {
  core::IoThreads io(1);
  try {
    Pool::create(io.context(), pool_options("bad", "redis://:hunter2@host:99999"));
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    std::string text = e.what();
    EXPECT_NE(text.find("Redis pool 'bad': invalid URL: port"), std::string::npos) << text;
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  }
  EXPECT_THROW(Pool::create(io.context(), pool_options("empty", "redis://h", 0)), UsageError);
}

TEST(RedisPool, NoFdLeakAfterClose) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  {
    auto warm = Pool::create(io.context(), pool_options("warm", test_url(), 1));
    EXPECT_FALSE(run(*warm, {"PING"}).error);
    warm->close();
  }
  std::this_thread::sleep_for(50ms);
  const int before = open_fd_count();
  for (int i = 0; i < 5; ++i) {
    auto pool = Pool::create(io.context(), pool_options("leak", test_url(), 4));
    EXPECT_FALSE(run(*pool, {"PING"}).error);
    auto lent = dedicated_sync(*pool);
    ASSERT_FALSE(lent.error);
    EXPECT_FALSE(run(lent.connection.connection(), {"PING"}).error);
    lent.connection.release();
    if (i % 2) pool->close();  // the others are only dropped
  }
  EXPECT_EQ(settle_fds(before), before);
}

}  // namespace
}  // namespace puff::redis
