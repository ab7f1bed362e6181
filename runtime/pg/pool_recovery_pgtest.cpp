// A pool whose server stops and comes back: it reconnects as soon as someone asks, and the
// outage is two log lines. Each test runs a cluster of its own (ThrowawayPostgres).
#include <gtest/gtest.h>

#include <thread>

#include "core/io_threads.h"
#include "pg/pgtest_support.h"
#include "pg/pool.h"

namespace puff::pg {
namespace {

using namespace puff::pg::testing;
using core::testing::CapturedStderr;

// Backoff paces connects only while nobody waits: with reconnect_backoff_max at 30 s and the
// backoff grown to it during the outage, acquires after the restart connect at once instead of
// timing out at the next backoff step. Meanwhile waiters get one connect at a time,
// kOnDemandSpacing apart, not a storm. The outage is two log lines.
TEST(PgPoolRecovery, AcquiresAfterRestartConnectWithoutWaitingForTheBackoff) {
  PUFF_REQUIRE_POSTGRES();
  ThrowawayPostgres server;
  ASSERT_TRUE(server.running());
  core::IoThreads io(2);
  auto o = test_pool_options("recovery", 3);
  o.conninfo = server.url();
  o.acquire_timeout_s = 1.5;
  o.reconnect_backoff_max_s = 30;
  auto pool = Pool::create(io.context(), o);
  CapturedStderr log;
  {
    auto a = acquire_sync(*pool);
    ASSERT_FALSE(a.error) << a.error->message;
    ASSERT_FALSE(query_sync(a.lease.connection(), "SELECT 1").error);
  }

  ASSERT_TRUE(server.stop());
  // 6 s of waiting: exponential backoff alone would be at 6.4 s by now.
  for (int i = 0; i < 4; ++i) {
    auto down = acquire_sync(*pool);
    ASSERT_TRUE(down.error);
    EXPECT_EQ(down.error->kind, Error::Kind::pool_timeout);
    EXPECT_NE(down.error->message.find("cannot connect to the server"), std::string::npos)
        << down.error->message;
  }
  const auto failures = pool->stats().connect_failures_total;
  EXPECT_GE(failures, 20u);
  EXPECT_LE(failures, 6.0 / 0.05 + 10);
  EXPECT_EQ(log.lines_with("PostgreSQL pool 'recovery' lost its server: "), 1) << log.text();
  EXPECT_EQ(log.lines_with("PostgreSQL pool 'recovery'"), 1) << log.text();

  ASSERT_TRUE(server.start());
  std::vector<std::future<Acquired>> after;
  for (int i = 0; i < 3; ++i) after.push_back(acquire_later(*pool));
  for (auto& f : after) {
    auto served = wait_for(f, 10s);
    ASSERT_TRUE(served) << "no answer to an acquire within 10 s";
    ASSERT_FALSE(served->error) << served->error->message;
    EXPECT_FALSE(query_sync(served->lease.connection(), "SELECT 1").error);
  }
  EXPECT_EQ(log.lines_with("PostgreSQL pool 'recovery' has its server back after "), 1)
      << log.text();
  EXPECT_EQ(log.lines_with("; acquires failed meanwhile: 4"), 1) << log.text();
  EXPECT_EQ(log.lines_with("PostgreSQL pool 'recovery'"), 2) << log.text();
  pool->close();
}

}  // namespace
}  // namespace puff::pg
