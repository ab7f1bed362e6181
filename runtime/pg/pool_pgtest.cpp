#include "pg/pool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
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
  return test_pool_options(name, max_size);
}

// Borrows one connection and gives it back; returns its backend's pid.
int lend_and_return(Pool& pool) {
  auto a = acquire_sync(pool);
  EXPECT_FALSE(a.error) << a.error->message;
  return a.error ? 0 : a.lease->backend_pid();
}

bool terminate_backend(Connection& admin, int pid) {
  auto out = query_sync(admin, "SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  EXPECT_FALSE(out.error) << out.error->message;
  return !out.error;
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
  auto f = acquire_later(*pool);
  std::this_thread::sleep_for(50ms);
  a.lease.release();
  auto served = wait_for(f, 2s);
  ASSERT_TRUE(served);
  EXPECT_FALSE(served->error);
  pool->close();
}

TEST(PgPool, PoolThatNeverConnectedFailsAcquiresAtOnceWithTheConnectError) {
  // Wrong settings (here a port nobody listens on) are one clear error, not acquire_timeout of
  // silence, as psycopg2.connect() would fail.
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("nowhere", 3);
  o.conninfo = "postgresql://postgres@127.0.0.1:" + std::to_string(unused_port()) + "/postgres";
  o.acquire_timeout_s = 5.0;
  o.reconnect_backoff_max_s = 0.2;
  auto pool = Pool::create(io.context(), o);
  for (int attempt = 0; attempt < 3; ++attempt) {  // the first connects; the others meet backoff
    auto start = Clock::now();
    auto r = acquire_sync(*pool);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->kind, Error::Kind::connect_failed);
    EXPECT_NE(r.error->message.find("refused"), std::string::npos) << r.error->message;
    EXPECT_NE(r.error->message.find("pool 'nowhere'"), std::string::npos) << r.error->message;
    EXPECT_LT(Clock::now() - start, 1s);
  }
  auto s = pool->stats();
  EXPECT_GE(s.connect_failures_total, 1u);
  EXPECT_LE(s.connect_failures_total, 3u);
  EXPECT_EQ(s.timeouts_total, 0u);
  EXPECT_EQ(s.size, 0);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_NE(s.last_connect_error.find("refused"), std::string::npos) << s.last_connect_error;
  pool->close();
}

TEST(PgPool, PoolThatHasConnectedWaitsThroughRefusalsThenRecovers) {
  // As while a server restarts: connects are refused for a while. A pool that has worked
  // before keeps its waiters and retries with backoff. The refusal here is a role's
  // CONNECTION LIMIT 0 (the shared test server cannot be stopped).
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto admin = connected(io.context());
  const std::string role = "puff_refused_" + std::to_string(::getpid());
  ASSERT_FALSE(query_sync(*admin, "DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role +
                                      " LOGIN")
                   .error);
  auto o = options("refused", 1);
  o.conninfo = with_param(test_url(), "user=" + role);  // overrides the URL's user
  o.reconnect_backoff_max_s = 0.1;
  auto pool = Pool::create(io.context(), o);
  int pid = 0;
  {
    auto a = acquire_sync(*pool);
    ASSERT_FALSE(a.error) << a.error->message;
    pid = a.lease->backend_pid();
    a.lease.discard();  // the pool has connected once, and now holds nothing
  }
  ASSERT_FALSE(query_sync(*admin, "ALTER ROLE " + role + " CONNECTION LIMIT 0").error);
  auto f = acquire_later(*pool);
  std::this_thread::sleep_for(500ms);
  auto refused = pool->stats();
  EXPECT_EQ(refused.waiting, 1);
  EXPECT_GE(refused.connect_failures_total, 2u);  // retried
  EXPECT_NE(refused.last_connect_error.find("too many connections"), std::string::npos)
      << refused.last_connect_error;
  ASSERT_FALSE(query_sync(*admin, "ALTER ROLE " + role + " CONNECTION LIMIT -1").error);
  auto served = wait_for(f, 3s);
  ASSERT_TRUE(served);
  ASSERT_FALSE(served->error) << served->error->message;
  EXPECT_NE(served->lease->backend_pid(), pid);
  EXPECT_EQ(pool->stats().last_connect_error, "");
  served->lease.release();
  pool->close();
  std::this_thread::sleep_for(100ms);  // the pool's backends end before the role goes
  EXPECT_FALSE(query_sync(*admin, "DROP ROLE " + role).error);
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

TEST(PgPool, BackendTerminatedWhileLeasedIsDroppedThenReplaced) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), options("terminated", 1));
  auto admin = connected(io.context());
  int pid = 0;
  {
    auto a = acquire_sync(*pool);
    ASSERT_FALSE(a.error);
    pid = a.lease->backend_pid();
    ASSERT_TRUE(terminate_backend(*admin, pid));
    auto out = query_sync(a.lease.connection(), "SELECT pg_sleep(0.2)");
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->kind, Error::Kind::connection_lost) << out.error->message;
  }  // given back broken: dropped
  EXPECT_EQ(pool->stats().dropped_total, 1u);
  EXPECT_EQ(pool->stats().size, 0);
  auto c = acquire_sync(*pool);
  ASSERT_FALSE(c.error);
  EXPECT_NE(c.lease->backend_pid(), pid);
  EXPECT_FALSE(query_sync(c.lease.connection(), "SELECT 1").error);
  EXPECT_EQ(pool->stats().created_total, 2u);
  pool->close();
}

TEST(PgPool, IdleConnectionTheServerHungUpOnIsCheckedBeforeLending) {
  // As after a server restart: the idle connections are dead long before health_check_after.
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("hung_up", 2);
  o.health_check_after_s = 3600;  // only the unasked input can trigger the check
  auto pool = Pool::create(io.context(), o);
  auto admin = connected(io.context());
  std::vector<int> pids;
  {
    auto a = acquire_sync(*pool);
    auto b = acquire_sync(*pool);
    ASSERT_FALSE(a.error);
    ASSERT_FALSE(b.error);
    pids = {a.lease->backend_pid(), b.lease->backend_pid()};
  }
  for (int pid : pids) {
    ASSERT_TRUE(terminate_backend(*admin, pid));
  }
  std::this_thread::sleep_for(100ms);
  auto c = acquire_sync(*pool);
  ASSERT_FALSE(c.error);
  EXPECT_EQ(std::count(pids.begin(), pids.end(), c.lease->backend_pid()), 0);
  EXPECT_FALSE(query_sync(c.lease.connection(), "SELECT 1").error);
  auto s = pool->stats();
  EXPECT_GE(s.health_check_failures_total, 1u);  // the most recently used one, at least
  EXPECT_EQ(s.dropped_total, s.health_check_failures_total);
  pool->close();
}

// Stops (SIGSTOP) the backend of `pid` for the scope: it neither answers nor hangs up.
class StoppedBackend {
 public:
  explicit StoppedBackend(int pid) : pid_(pid), stopped_(::kill(pid, SIGSTOP) == 0) {}
  ~StoppedBackend() {
    if (stopped_) ::kill(pid_, SIGCONT);
  }
  bool stopped() const { return stopped_; }

 private:
  int pid_;
  bool stopped_;
};

TEST(PgPool, HealthCheckAfterIdleTimeGivesUpOnASilentServer) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("silent", 1);
  o.health_check_after_s = 0.2;
  o.connect_timeout_s = 0.3;  // bounds the check's round trip
  auto pool = Pool::create(io.context(), o);
  auto admin = connected(io.context());
  const int pid = lend_and_return(*pool);
  ASSERT_NE(pid, 0);
  {
    StoppedBackend stopped(pid);
    if (!stopped.stopped()) GTEST_SKIP() << "cannot signal the backend (another user's server)";
    // Idle for less than health_check_after: lent without a round trip, even to a silent server.
    auto fresh = acquire_sync(*pool, 1s);
    ASSERT_FALSE(fresh.error);
    EXPECT_EQ(fresh.lease->backend_pid(), pid);
    fresh.lease.release();
    std::this_thread::sleep_for(300ms);
    // Idle longer: checked; the check gets no answer within connect_timeout and is given up.
    auto start = Clock::now();
    auto checked = acquire_sync(*pool, 3s);
    ASSERT_FALSE(checked.error) << checked.error->message;
    EXPECT_NE(checked.lease->backend_pid(), pid);
    EXPECT_GE(Clock::now() - start, 250ms);
    EXPECT_LT(Clock::now() - start, 2s);
    EXPECT_EQ(pool->stats().health_check_failures_total, 1u);
  }
  ASSERT_TRUE(terminate_backend(*admin, pid));
  pool->close();
}

TEST(PgPool, StatsCountAcquireWaits) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto pool = Pool::create(io.context(), options("waits", 1));
  auto a = acquire_sync(*pool);
  ASSERT_FALSE(a.error);
  auto f = acquire_later(*pool);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(pool->stats().waiting, 1);
  a.lease.release();
  auto b = wait_for(f, 2s);
  ASSERT_TRUE(b);
  ASSERT_FALSE(b->error);
  auto s = pool->stats();
  EXPECT_EQ(s.acquired_total, 2u);
  EXPECT_GE(s.acquire_wait_max_s, 0.19);
  EXPECT_LT(s.acquire_wait_max_s, 2.0);
  EXPECT_GE(s.acquire_wait_total_s, s.acquire_wait_max_s);
  EXPECT_EQ(s.in_use, 1);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.last_connect_error, "");
  pool->close();
}

TEST(PgPool, HealthCheckReplacesABrokenIdleConnection) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto o = options("checked", 1);
  o.health_check_after_s = 0.0;  // check on every checkout
  auto pool = Pool::create(io.context(), o);
  auto admin = connected(io.context());
  const int pid = lend_and_return(*pool);
  ASSERT_NE(pid, 0);
  ASSERT_TRUE(terminate_backend(*admin, pid));
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
  auto f = acquire_later(*pool);
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
