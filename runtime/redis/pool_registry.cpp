#include "redis/pool_registry.h"

#include <string>
#include <tuple>

#include "core/shared_pools.h"

namespace puff::redis {
namespace {

// Every option, so that a pool never serves settings it was not created with.
auto key_of(const PoolOptions& o) {
  return std::make_tuple(o.name, o.url, o.size, o.connect_timeout_s, o.command_timeout_s,
                         o.reconnect_backoff_max_s);
}
using Key = decltype(key_of(PoolOptions{}));

// Leaked on purpose: pools must be closed while the IO threads still exist, never by a static
// destructor that runs after them.
auto* pools = new core::SharedPools<Pool, Key>;

}  // namespace

std::shared_ptr<Pool> shared_pool(boost::asio::io_context& io, const PoolOptions& options) {
  return pools->get(io, options, key_of(options));
}

std::vector<PoolStats> shared_pool_stats() { return pools->stats(); }

void close_shared_pools() { pools->close_all(); }

void abandon_shared_pools_after_fork() { pools->abandon_all(); }

}  // namespace puff::redis
