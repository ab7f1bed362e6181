#include "pg/pool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "core/io_threads.h"
#include "pg/pgtest_support.h"

namespace puff::pg {
namespace {

using namespace puff::pg::testing;
using Clock = std::chrono::steady_clock;

std::string unique_app_name(const char* what) {
  static std::atomic<int> counter{0};
  return std::string("puff_") + what + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(counter++) + "_" + std::to_string(std::random_device{}() % 100000);
}

PoolOptions options(const std::string& name, int max_size) {
  PoolOptions o;
  o.name = name;
  o.conninfo = test_url();
  o.min_size = 0;
  o.max_size = max_size;
  o.acquire_timeout_s = 5.0;
  o.connect_timeout_s = 5.0;
  return o;
}

TEST(PgPool, FiftyQueriesShareFiveConnections) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  const std::string app = unique_app_name("fifty");
  auto o = options("fifty", 5);
  o.conninfo = with_param(test_url(), "application_name=" + app);
  auto pool = Pool::create(io.context(), o);

  std::atomic<int> ok{0}, failed{0}, finished{0};
  auto all_done = std::make_shared<std::promise<void>>();
  auto all_done_f = all_done->get_future();
  for (int i = 0; i < 50; ++i) {
    pool->acquire([&, all_done](std::optional<Error> error, Lease lease) {
      if (error) {
        ++failed;
        if (++finished == 50) all_done->set_value();
        return;
      }
      auto held = std::make_shared<Lease>(std::move(lease));
      (*held)->execute("SELECT pg_sleep(0.05)", [&, held, all_done](QueryOutcome out) {
        (out.error ? failed : ok)++;
        held->release();
        if (++finished == 50) all_done->set_value();
      });
    });
  }

  // Sample the server's view of our connections from outside the pool while the run goes.
  auto sampler = connected(io.context());
  int max_seen = 0;
  while (all_done_f.wait_for(10ms) != std::future_status::ready) {
    auto count = query_sync(*sampler,
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                            std::vector<std::optional<std::string>>{app});
    ASSERT_FALSE(count.error) << count.error->message;
    max_seen = std::max(max_seen, std::stoi(std::string(count.results[0].value(0, 0))));
    ASSERT_LT(finished.load(), 51);
    if (all_done_f.wait_for(0ms) == std::future_status::ready) break;
    static const auto deadline = Clock::now() + 10s;
    ASSERT_LT(Clock::now(), deadline) << "the 50 queries did not finish within 10 s";
  }
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(max_seen, 1);
  EXPECT_LE(max_seen, 5);
  auto s = pool->stats();
  EXPECT_EQ(s.name, "fifty");
  EXPECT_EQ(s.acquired_total, 50u);
  EXPECT_LE(s.created_total, 5u);
  EXPECT_LE(s.size, 5);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_EQ(s.idle, s.size);
  pool->close();
}

TEST(PgPool, AcquireTimesOutWhenEveryConnectionIsHeld) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("busy_pool", 2);
  o.acquire_timeout_s = 0.3;
  auto pool = Pool::create(io.context(), o);
  auto a = acquire_sync(*pool);
  auto b = acquire_sync(*pool);
  ASSERT_FALSE(a.error);
  ASSERT_FALSE(b.error);
  EXPECT_EQ(pool->stats().in_use, 2);

  auto start = Clock::now();
  auto c = acquire_sync(*pool);
  auto took = Clock::now() - start;
  ASSERT_TRUE(c.error);
  EXPECT_FALSE(c.lease);
  EXPECT_EQ(c.error->kind, Error::Kind::pool_timeout);
  EXPECT_NE(c.error->message.find("'busy_pool'"), std::string::npos) << c.error->message;
  EXPECT_NE(c.error->message.find("all 2 connections"), std::string::npos) << c.error->message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_EQ(pool->stats().timeouts_total, 1u);
  EXPECT_EQ(pool->stats().waiting, 0);

  // A waiter is served as soon as a lease comes back.
  auto done = std::make_shared<std::promise<Acquired>>();
  auto f = done->get_future();
  pool->acquire([done](std::optional<Error> e, Lease l) {
    done->set_value(Acquired{std::move(e), std::move(l)});
  });
  std::this_thread::sleep_for(50ms);
  a.lease.release();
  auto served = wait_for(f, 2s);
  ASSERT_TRUE(served);
  EXPECT_FALSE(served->error);
  pool->close();
}

TEST(PgPool, UnreachableServerTimesOutNamingTheLastError) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("nowhere", 3);
  o.conninfo = "postgresql://postgres@127.0.0.1:" + std::to_string(unused_port()) + "/postgres";
  o.acquire_timeout_s = 0.5;
  o.reconnect_backoff_max_s = 0.2;
  auto pool = Pool::create(io.context(), o);
  auto start = Clock::now();
  auto r = acquire_sync(*pool);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, Error::Kind::pool_timeout);
  EXPECT_NE(r.error->message.find("'nowhere'"), std::string::npos) << r.error->message;
  EXPECT_NE(r.error->message.find("unreachable"), std::string::npos) << r.error->message;
  EXPECT_NE(r.error->message.find("refused"), std::string::npos) << r.error->message;
  EXPECT_LT(Clock::now() - start, 1500ms);
  auto s = pool->stats();
  EXPECT_GE(s.connect_failures_total, 2u);  // it kept retrying, with backoff
  EXPECT_LE(s.connect_failures_total, 15u);
  EXPECT_EQ(s.size, 0);
  pool->close();
}

TEST(PgPool, LeaseReturnedInsideATransactionIsRolledBack) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), options("tx", 1));
  int pid = 0;
  {
    auto a = acquire_sync(*pool);
    ASSERT_FALSE(a.error);
    pid = a.lease->backend_pid();
    ASSERT_FALSE(query_sync(a.lease.connection(),
                            "BEGIN; CREATE TEMP TABLE leaked(x int); INSERT INTO leaked VALUES (1)")
                     .error);
    EXPECT_EQ(a.lease->transaction_status(), TransactionStatus::in_transaction);
  }  // returned dirty
  {
    auto b = acquire_sync(*pool);
    ASSERT_FALSE(b.error);
    EXPECT_EQ(b.lease->backend_pid(), pid);  // the same session, cleaned
    EXPECT_EQ(b.lease->transaction_status(), TransactionStatus::idle);
    auto t = query_sync(b.lease.connection(), "SELECT to_regclass('pg_temp.leaked') IS NULL");
    ASSERT_FALSE(t.error);
    EXPECT_EQ(t.results[0].value(0, 0), "t");
    // Now leave it in a failed transaction.
    ASSERT_FALSE(query_sync(b.lease.connection(), "BEGIN").error);
    ASSERT_TRUE(query_sync(b.lease.connection(), "SELECT 1/0").error);
    EXPECT_EQ(b.lease->transaction_status(), TransactionStatus::in_error);
  }
  auto c = acquire_sync(*pool);
  ASSERT_FALSE(c.error);
  EXPECT_EQ(c.lease->transaction_status(), TransactionStatus::idle);
  EXPECT_FALSE(query_sync(c.lease.connection(), "SELECT 1").error);
  pool->close();
}

TEST(PgPool, TerminatedBackendIsLostThenReplaced) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), options("terminated", 1));
  auto admin = connected(io.context());
  int pid = 0;
  {
    auto a = acquire_sync(*pool);
    ASSERT_FALSE(a.error);
    pid = a.lease->backend_pid();
  }
  ASSERT_FALSE(query_sync(*admin, "SELECT pg_terminate_backend(" + std::to_string(pid) + ")").error);
  std::this_thread::sleep_for(100ms);
  {
    auto b = acquire_sync(*pool);  // no health check yet (idle < health_check_after)
    ASSERT_FALSE(b.error);
    auto out = query_sync(b.lease.connection(), "SELECT 1");
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->kind, Error::Kind::connection_lost) << out.error->message;
  }
  auto c = acquire_sync(*pool);
  ASSERT_FALSE(c.error);
  EXPECT_NE(c.lease->backend_pid(), pid);
  EXPECT_FALSE(query_sync(c.lease.connection(), "SELECT 1").error);
  EXPECT_EQ(pool->stats().created_total, 2u);
  pool->close();
}

TEST(PgPool, HealthCheckReplacesABrokenIdleConnection) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("checked", 1);
  o.health_check_after_s = 0.0;  // check on every checkout
  auto pool = Pool::create(io.context(), o);
  auto admin = connected(io.context());
  int pid = 0;
  {
    auto a = acquire_sync(*pool);
    ASSERT_FALSE(a.error);
    pid = a.lease->backend_pid();
  }
  ASSERT_FALSE(query_sync(*admin, "SELECT pg_terminate_backend(" + std::to_string(pid) + ")").error);
  std::this_thread::sleep_for(100ms);
  auto b = acquire_sync(*pool);
  ASSERT_FALSE(b.error);
  EXPECT_NE(b.lease->backend_pid(), pid);
  EXPECT_FALSE(query_sync(b.lease.connection(), "SELECT 1").error);
  pool->close();
}

TEST(PgPool, StatementTimeoutAppliesToPooledConnections) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("stmt_timeout", 1);
  o.statement_timeout_s = 0.1;
  auto pool = Pool::create(io.context(), o);
  auto a = acquire_sync(*pool);
  ASSERT_FALSE(a.error);
  auto out = query_sync(a.lease.connection(), "SELECT pg_sleep(2)");
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->sqlstate, "57014");
  pool->close();
}

TEST(PgPool, StartOpensMinSizeAndCloseFailsWaiters) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("closing", 2);
  o.min_size = 2;
  auto pool = Pool::create(io.context(), o);
  pool->start();
  for (int i = 0; i < 100 && pool->stats().idle < 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(pool->stats().idle, 2);
  EXPECT_EQ(pool->stats().created_total, 2u);

  auto a = acquire_sync(*pool);
  auto b = acquire_sync(*pool);
  ASSERT_FALSE(a.error);
  auto done = std::make_shared<std::promise<Acquired>>();
  auto f = done->get_future();
  pool->acquire([done](std::optional<Error> e, Lease l) {
    done->set_value(Acquired{std::move(e), std::move(l)});
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(pool->stats().waiting, 1);
  pool->close();
  auto waiter = wait_for(f, 2s);
  ASSERT_TRUE(waiter);
  ASSERT_TRUE(waiter->error);
  EXPECT_EQ(waiter->error->kind, Error::Kind::closed);
  auto late = acquire_sync(*pool);
  ASSERT_TRUE(late.error);
  EXPECT_EQ(late.error->kind, Error::Kind::closed);
  a.lease.release();  // closed on return
  b.lease.release();
  EXPECT_EQ(pool->stats().size, 0);
}

TEST(PgPool, NoDescriptorLeakAfterClose) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  warm_up(io.context());  // the reactor opens its epoll/timer/event fds on first use
  const int before = open_fd_count();
  {
    auto pool = Pool::create(io.context(), options("fds", 20));
    std::vector<Acquired> held;
    for (int i = 0; i < 20; ++i) held.push_back(acquire_sync(*pool));
    for (auto& h : held) ASSERT_FALSE(h.error);
    EXPECT_EQ(pool->stats().size, 20);
    held.clear();
    pool->close();
  }
  EXPECT_EQ(settle_fds(before), before);
}

}  // namespace
}  // namespace puff::pg
