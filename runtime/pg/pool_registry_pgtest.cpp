#include "pg/pool_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/io_threads.h"
#include "pg/pgtest_support.h"

namespace puff::pg {
namespace {

using namespace puff::pg::testing;

PoolOptions options(const std::string& name) { return test_pool_options(name, 2); }

const PoolStats* find(const std::vector<PoolStats>& all, const std::string& name) {
  auto it = std::find_if(all.begin(), all.end(), [&](const PoolStats& s) { return s.name == name; });
  return it == all.end() ? nullptr : &*it;
}

TEST(PgPoolRegistry, SameOptionsShareOnePoolAndAnyDifferenceMakesAnother) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto a = shared_pool(io.context(), options("registry_b"));
  EXPECT_EQ(shared_pool(io.context(), options("registry_b")), a);
  auto other = options("registry_b");
  other.statement_timeout_s = 1.5;  // same name, other settings: never served by `a`
  auto b = shared_pool(io.context(), other);
  EXPECT_NE(b, a);
  auto c = shared_pool(io.context(), options("registry_a"));

  auto lease = acquire_sync(*a);
  ASSERT_FALSE(lease.error);
  auto all = shared_pool_stats();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const PoolStats& x, const PoolStats& y) { return x.name < y.name; }));
  EXPECT_EQ(all[0].name, "registry_a");
  EXPECT_EQ(all[1].in_use + all[2].in_use, 1);  // the lease shows in exactly one of the two

  close_shared_pools();
  EXPECT_TRUE(shared_pool_stats().empty());
  auto late = acquire_sync(*c);  // a holder of a closed pool gets a clear error
  ASSERT_TRUE(late.error);
  EXPECT_EQ(late.error->kind, Error::Kind::closed);
  lease.lease.release();
  EXPECT_EQ(a->stats().size, 0);  // closed when it came back
  EXPECT_NE(shared_pool(io.context(), options("registry_b")), a);  // a new one after closing
  close_shared_pools();
}

// "host=H port=P dbname=D user=U" for the test URL "postgresql://U@H:P/D".
std::string key_value_form(const std::string& url) {
  auto at = url.find('@'), colon = url.rfind(':'), slash = url.rfind('/');
  return "host=" + url.substr(at + 1, colon - at - 1) + " port=" +
         url.substr(colon + 1, slash - colon - 1) + " dbname=" + url.substr(slash + 1) +
         " user=" + url.substr(url.find("://") + 3, at - url.find("://") - 3);
}

TEST(PgPoolRegistry, ClosingTheDatabasesPoolsClosesEverySettingsVariantAndNothingElse) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(1);
  std::vector<std::shared_ptr<Pool>> variants;
  for (const std::string& conninfo :
       {test_url(), with_param(test_url(), "options=-c%20TimeZone%3DAsia/Tokyo"),
        key_value_form(test_url()) + " application_name=variant"}) {
    auto o = options("registry_variant");
    o.conninfo = conninfo;
    variants.push_back(shared_pool(io.context(), o));
    auto lease = acquire_sync(*variants.back());
    ASSERT_FALSE(lease.error) << conninfo << ": " << lease.error->message;
  }  // each keeps an idle server connection to the database
  auto other_database = options("registry_other");
  other_database.conninfo = with_param(test_url(), "dbname=template1");
  auto other = shared_pool(io.context(), other_database);
  acquire_sync(*other).lease.release();

  EXPECT_EQ(close_shared_pools_to_database(test_url()), 3u);
  for (auto& pool : variants) EXPECT_EQ(pool->stats().size, 0) << "idle connections closed";
  auto all = shared_pool_stats();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "registry_other");
  EXPECT_EQ(other->stats().idle, 1);
  EXPECT_NE(shared_pool(io.context(), options("registry_variant")), variants[0]);  // a new one
  EXPECT_EQ(close_shared_pools_to_database("not a conninfo ="), 0u);
  close_shared_pools();
}

TEST(PgPoolRegistry, BadOptionsRegisterNothing) {
  core::IoThreads io(1);
  auto bad = options("registry_bad");
  bad.max_size = 0;
  EXPECT_THROW(shared_pool(io.context(), bad), UsageError);
  EXPECT_EQ(find(shared_pool_stats(), "registry_bad"), nullptr);
}

}  // namespace
}  // namespace puff::pg
