#include "redis/pool_registry.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace puff::redis {
namespace {

// Every option, so that a pool never serves settings it was not created with.
auto key_of(const PoolOptions& o) {
  return std::make_tuple(o.name, o.url, o.size, o.connect_timeout_s, o.command_timeout_s,
                         o.reconnect_backoff_max_s);
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
    if (auto found = pools->find(key); found != pools->end()) return found->second;
    pool = Pool::create(io, options);
    pools->emplace(key, pool);
  }
  pool->start();  // outside the lock: it posts connects to `io`
  return pool;
}

std::vector<PoolStats> shared_pool_stats() {
  std::vector<std::shared_ptr<Pool>> all;
  {
    std::lock_guard lock(registry_mutex);
    for (auto& [key, pool] : *pools) all.push_back(pool);
  }
  std::vector<PoolStats> out;
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

}  // namespace puff::redis
