// The process's PostgreSQL pools for pooled sessions, one per distinct settings, created on
// first use on the connections' IO context and closed when the interpreter finalizes.
#pragma once

#include <memory>
#include <vector>

#include "pg/pool.h"
#include "python/pyref.h"

namespace puff::psycopg {

std::shared_ptr<pg::Pool> shared_pool(const pg::PoolOptions& options);
std::vector<pg::PoolStats> pool_stats();

// Adds pool_stats() to the module.
bool add_pool_functions(PyObject* module);

}  // namespace puff::psycopg
