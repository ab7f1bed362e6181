// The pool's fast paths: lending an idle connection on the calling thread (try_acquire_now),
// acquire callbacks run inline (inline_callbacks), and the connect-time parameter snapshot a
// pooled session answers with between leases.
#include <gtest/gtest.h>

#include <thread>

#include "core/io_threads.h"
#include "pg/pgtest_support.h"
#include "pg/pool.h"

namespace puff::pg {
namespace {

using namespace puff::pg::testing;

PoolOptions options(const std::string& name) { return test_pool_options(name, 1); }

TEST(PgPoolFastPath, TryAcquireNowLendsAnIdleConnectionOnlyWhenItCanAtOnce) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(1);
  auto pool = Pool::create(io.context(), options("try-now"));
  EXPECT_FALSE(pool->try_acquire_now()) << "an empty pool has nothing to lend at once";

  int pid = 0;
  {
    auto first = acquire_sync(*pool);
    ASSERT_FALSE(first.error) << first.error->message;
    pid = first.lease->backend_pid();
    EXPECT_FALSE(pool->try_acquire_now()) << "the only connection is leased";
  }
  std::optional<Lease> now = pool->try_acquire_now();
  ASSERT_TRUE(now);
  EXPECT_EQ((*now)->backend_pid(), pid);
  auto out = query_sync(now->connection(), "SELECT 1");
  EXPECT_FALSE(out.error);

  // A waiter queued ahead keeps its turn: the freed connection goes to it, not to try_acquire.
  auto waiter = acquire_later(*pool);
  now.reset();
  auto served = wait_for(waiter, std::chrono::seconds(5));
  ASSERT_TRUE(served);
  ASSERT_FALSE(served->error);
  EXPECT_FALSE(pool->try_acquire_now());
  served->lease.release();

  EXPECT_EQ(pool->stats().acquired_total, 3);
  pool->close();
}

TEST(PgPoolFastPath, TryAcquireNowLeavesHealthChecksToAcquire) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(1);
  auto o = options("try-now-check");
  o.health_check_after_s = 0;  // every idle connection is checked before use
  auto pool = Pool::create(io.context(), o);
  acquire_sync(*pool).lease.release();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(pool->try_acquire_now());
  auto checked = acquire_sync(*pool);
  EXPECT_FALSE(checked.error);
  pool->close();
}

TEST(PgPoolFastPath, InlineCallbacksHandAFreedConnectionToTheNextWaiterOnTheFreeingThread) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(1);
  auto o = options("inline");
  o.inline_callbacks = true;
  auto pool = Pool::create(io.context(), o);
  auto held = acquire_sync(*pool);
  ASSERT_FALSE(held.error);

  std::promise<std::thread::id> served_on;
  auto served_f = served_on.get_future();
  Lease second;
  pool->acquire([&](std::optional<Error> error, Lease lease) {
    EXPECT_FALSE(error);
    second = std::move(lease);
    served_on.set_value(std::this_thread::get_id());
  });
  held.lease.release();  // this thread frees it: the waiter is served right here
  ASSERT_EQ(served_f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(served_f.get(), std::this_thread::get_id());
  EXPECT_TRUE(second);
  second.release();
  pool->close();
}

TEST(PgPoolFastPath, ConnectParametersAreTheSnapshotTakenAtConnect) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(1);
  auto c = connected(io.context(), with_param(test_url(), "options=-c%20TimeZone%3DUTC"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->connect_parameter("TimeZone"), "UTC");
  EXPECT_EQ(c->connect_parameter("client_encoding"), c->parameter_status("client_encoding"));
  EXPECT_EQ(c->connect_parameter("no_such_parameter"), "");
  auto out = query_sync(*c, "SET TimeZone = 'Europe/Paris'");
  ASSERT_FALSE(out.error) << out.error->message;
  EXPECT_EQ(c->parameter_status("TimeZone"), "Europe/Paris");  // the live value moves
  EXPECT_EQ(c->connect_parameter("TimeZone"), "UTC");           // the snapshot does not
}

}  // namespace
}  // namespace puff::pg
