// The driver's view of the process's PostgreSQL pools, for `puff.db_pool_stats()` and
// `psycopg2._psycopg.pool_stats()` (every shared pool, read from pg/pool_registry.h, where
// pooled sessions register them) and `puff.postgres_config()` (the loaded [[postgres]]
// entries, which the Django engine applies to its pools). Python-facing: GIL held.
#pragma once

#include <memory>
#include <vector>

#include "config/config.h"
#include "pg/pool.h"
#include "python/compat.h"

namespace puff::psycopg {

// The [[postgres]] entries postgres_config() shows. The CLI sets them before Python starts.
void set_postgres_config(std::vector<config::PostgresConfig> entries);

// The shared pool for `options` on the connections' IO context (created on first use); every
// pool is closed when the interpreter finalizes, while the IO threads still exist.
std::shared_ptr<pg::Pool> shared_pool(const pg::PoolOptions& options);

// Adds pool_stats() and postgres_config() to the module. Throws ErrorAlreadySet.
void add_pool_functions(PyObject* module);

}  // namespace puff::psycopg
