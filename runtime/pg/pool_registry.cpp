#include "pg/pool_registry.h"

#include <string>
#include <tuple>

#include "core/shared_pools.h"

namespace puff::pg {
namespace {

// Every option, so that a pool never serves settings it was not created with.
auto key_of(const PoolOptions& o) {
  return std::make_tuple(o.name, o.conninfo, o.min_size, o.max_size, o.acquire_timeout_s,
                         o.health_check_after_s, o.connect_timeout_s, o.statement_timeout_s,
                         o.reconnect_backoff_max_s, o.application_name, o.inline_callbacks);
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

void close_shared_pool(const std::shared_ptr<Pool>& pool) { pools->close(pool); }

void close_shared_pools() { pools->close_all(); }

}  // namespace puff::pg
