// The driver's side of the process's shared pools (pg/pool_registry.h): pooled sessions get
// theirs on the connections' IO context, and every pool is closed when the interpreter
// finalizes, while the IO threads still exist.
#pragma once

#include <memory>

#include "pg/pool.h"
#include "python/pyref.h"

namespace puff::psycopg {

std::shared_ptr<pg::Pool> shared_pool(const pg::PoolOptions& options);

// Adds pool_stats() to the module: the same list as puff.db_pool_stats(), for plain python
// (where there is no `puff` module).
bool add_pool_functions(PyObject* module);

}  // namespace puff::psycopg
