#include "pg/pool_registry.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace puff::pg {
namespace {

// Every option, so that a pool never serves settings it was not created with.
auto key_of(const PoolOptions& o) {
  return std::make_tuple(o.name, o.conninfo, o.min_size, o.max_size, o.acquire_timeout_s,
                         o.health_check_after_s, o.connect_timeout_s, o.statement_timeout_s,
                         o.reconnect_backoff_max_s, o.application_name, o.inline_callbacks);
}
using Key = decltype(key_of(PoolOptions{}));

std::mutex registry_mutex;
// Leaked on purpose: pools must be closed while the IO threads still exist, never by a static
// destructor that runs after them.
auto* pools = new std::map<Key, std::shared_ptr<Pool>>;

}  // namespace

std::shared_ptr<Pool> shared_pool(boost::asio::io_context& io, const PoolOptions& options) {
  std::shared_ptr<Pool> pool;
  {
    std::lock_guard lock(registry_mutex);
    const Key key = key_of(options);
    auto found = pools->find(key);
    if (found != pools->end()) return found->second;
    pool = Pool::create(io, options);  // throws UsageError for bad sizes: nothing registered
    pools->emplace(key, pool);
  }
  pool->start();  // outside the lock: opening min_size connections posts work to `io`
  return pool;
}

std::vector<PoolStats> shared_pool_stats() {
  std::vector<std::shared_ptr<Pool>> all;
  {
    std::lock_guard lock(registry_mutex);
    for (auto& [key, pool] : *pools) all.push_back(pool);
  }
  std::vector<PoolStats> out;
  out.reserve(all.size());
  for (auto& pool : all) out.push_back(pool->stats());
  std::stable_sort(out.begin(), out.end(),
                   [](const PoolStats& a, const PoolStats& b) { return a.name < b.name; });
  return out;
}

void close_shared_pools() {
  std::map<Key, std::shared_ptr<Pool>> closing;
  {
    std::lock_guard lock(registry_mutex);
    closing.swap(*pools);
  }
  for (auto& [key, pool] : closing) pool->close();
}

}  // namespace puff::pg
