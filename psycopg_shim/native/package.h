// The psycopg2 driver as a package of the `puff` executable (runtime/cli/packages.h): its
// built-in module psycopg2._psycopg, puff.db_pool_stats / puff.postgres_config, and puff.toml's
// [[postgres]] entries for the Django engine.
#pragma once

#include "cli/packages.h"

namespace puff::psycopg {

cli::Package package();

}  // namespace puff::psycopg
