// The process's shared Redis pools: one redis::Pool per distinct PoolOptions, created on first
// use and kept until close_shared_pools(). The Python client and the cache backend (next) reach
// the same pools through it, and so can status views, without depending on each other.
// Every function is thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "redis/pool.h"

namespace puff::redis {

// The pool for exactly these options, created (and started) on `io` when it is the first ask.
// Different options get different pools, even under the same name. Throws UsageError for
// options Pool::create rejects (nothing is registered then).
std::shared_ptr<Pool> shared_pool(boost::asio::io_context& io, const PoolOptions& options);

// Statistics of every shared pool, ordered by name.
std::vector<PoolStats> shared_pool_stats();

// Closes and forgets every shared pool (at exit, while the IO threads still run). Holders of
// one keep a closed pool: its commands fail with Error::closed.
void close_shared_pools();

// In the child of a fork(): forgets every pool without touching it (their IO threads do not
// exist in the child, and closing could wait on locks those threads held). They leak.
void abandon_shared_pools_after_fork();

}  // namespace puff::redis
