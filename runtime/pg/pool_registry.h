// The process's shared pools: one pg::Pool per distinct PoolOptions, created on first use and
// kept until close_shared_pools(). It lives here, below everything that uses pools, so that the
// driver (psycopg_shim, which creates them) and the runtime's own views of them (the `puff`
// module's db_pool_stats(), later an HTTP status page) reach the same pools without depending on
// each other. Pure C++; every function is thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pg/pool.h"

namespace puff::pg {

// The pool for exactly these options, created (and started) on `io` when it is the first ask.
// Two users asking with different options get different pools, even under the same name.
std::shared_ptr<Pool> shared_pool(boost::asio::io_context& io, const PoolOptions& options);

// Statistics of every shared pool, ordered by name.
std::vector<PoolStats> shared_pool_stats();

// Closes and forgets every shared pool whose server connections go to the database `conninfo`
// names: the same host, hostaddr, port and dbname as written (user, options and every pool
// setting may differ), e.g. before that database is dropped, whichever variant of its settings
// opened a pool. Their idle server connections close now; the next shared_pool() with the same
// options makes a new pool. Returns how many; none when `conninfo` does not parse.
std::size_t close_shared_pools_to_database(const std::string& conninfo);

// Closes and forgets every shared pool (at interpreter exit, while the IO threads still run).
// Users that still hold one keep a closed pool: its acquires fail with Error::closed.
void close_shared_pools();

}  // namespace puff::pg
