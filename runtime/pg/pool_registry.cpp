#include "pg/pool_registry.h"

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <string_view>
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

// Where a conninfo's sessions go, as written ("" when unset: libpq's defaults are the same for
// every conninfo of the process); dbname falls back to the user, as libpq's does.
struct DatabaseAddress {
  std::string host, hostaddr, port, dbname;
  bool operator==(const DatabaseAddress&) const = default;
};

// nullopt when the conninfo does not parse.
std::optional<DatabaseAddress> database_of(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (!options) {
    if (error) PQfreemem(error);
    return std::nullopt;
  }
  DatabaseAddress address;
  std::string user;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view keyword = o->keyword;
    if (keyword == "host") address.host = o->val;
    if (keyword == "hostaddr") address.hostaddr = o->val;
    if (keyword == "port") address.port = o->val;
    if (keyword == "dbname") address.dbname = o->val;
    if (keyword == "user") user = o->val;
  }
  PQconninfoFree(options);
  if (address.dbname.empty()) address.dbname = user;
  return address;
}

// Leaked on purpose: pools must be closed while the IO threads still exist, never by a static
// destructor that runs after them.
auto* pools = new core::SharedPools<Pool, Key>;

}  // namespace

std::shared_ptr<Pool> shared_pool(boost::asio::io_context& io, const PoolOptions& options) {
  return pools->get(io, options, key_of(options));
}

std::vector<PoolStats> shared_pool_stats() { return pools->stats(); }

std::size_t close_shared_pools_to_database(const std::string& conninfo) {
  auto database = database_of(conninfo);
  if (!database) return 0;
  return pools->close_if(
      [&](const Pool& pool) { return database_of(pool.options().conninfo) == database; });
}

void close_shared_pools() { pools->close_all(); }

}  // namespace puff::pg
