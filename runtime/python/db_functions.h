// The `puff` module's database functions: db_pool_stats() (every shared PostgreSQL pool, read
// from pg/pool_registry.h, where the driver registers them) and postgres_config() (the loaded
// [[postgres]] entries, which the Django engine applies to its pools).
#pragma once

#include <vector>

#include "config/config.h"
#include "python/compat.h"

namespace puff::python {

// The [[postgres]] entries postgres_config() shows. The CLI sets them before Python starts.
void set_postgres_config(std::vector<config::PostgresConfig> entries);

// [{name, min, max, size, idle, in_use, ...}, ...] for every shared pool, ordered by name.
PyObject* db_pool_stats_list();

bool add_db_functions(PyObject* module);

}  // namespace puff::python
