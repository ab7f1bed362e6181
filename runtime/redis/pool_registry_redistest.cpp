#include "redis/pool_registry.h"

#include "redis/redistest_support.h"

namespace puff::redis {
namespace {

using namespace testing;

TEST(RedisPoolRegistry, SameOptionsShareOnePoolAndAnyDifferenceMakesAnother) {
  PUFF_REQUIRE_REDIS();
  core::IoThreads io(2);
  auto a = shared_pool(io.context(), pool_options("registry_b", test_url()));
  EXPECT_EQ(shared_pool(io.context(), pool_options("registry_b", test_url())), a);
  auto other = pool_options("registry_b", test_url());
  other.command_timeout_s = 1.5;  // same name, other settings: never served by `a`
  auto b = shared_pool(io.context(), other);
  EXPECT_NE(b, a);
  auto c = shared_pool(io.context(), pool_options("registry_a", test_url(), 1));
  EXPECT_EQ(wait_connected(*a, 2), 2);  // started by the registry, no command needed
  EXPECT_FALSE(run(*c, {"PING"}).error);

  auto all = shared_pool_stats();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "registry_a");
  EXPECT_EQ(all[1].name, "registry_b");
  EXPECT_EQ(all[2].name, "registry_b");

  EXPECT_THROW(shared_pool(io.context(), pool_options("bad", "http://nope")), UsageError);
  EXPECT_EQ(shared_pool_stats().size(), 3u);  // nothing registered for the bad one

  close_shared_pools();
  EXPECT_TRUE(shared_pool_stats().empty());
  auto after = run(*a, {"PING"});
  ASSERT_TRUE(after.error);
  EXPECT_EQ(after.error->kind, Error::Kind::closed);
  EXPECT_NE(shared_pool(io.context(), pool_options("registry_b", test_url())), a);  // a new one
  close_shared_pools();
}

}  // namespace
}  // namespace puff::redis
