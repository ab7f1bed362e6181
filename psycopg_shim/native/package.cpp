#include "psycopg_shim/native/package.h"

#include "psycopg_shim/native/module.h"
#include "psycopg_shim/native/pool_stats.h"

namespace puff::psycopg {

cli::Package package() {
  return {.name = "psycopg2",
          .register_builtins =
              [](const cli::PackageContext& context) {
                register_builtin();
                set_postgres_config(context.config.postgres);  // puff.postgres_config()
              },
          .commands = {}};
}

}  // namespace puff::psycopg
