// The native half of the psycopg2 shim, `psycopg2._psycopg`: compiled into puff as a built-in
// module and, from the same static library, as an extension module for plain python.
#pragma once

namespace puff::psycopg {

// Registers psycopg2._psycopg as a built-in module of the embedded interpreter, and
// puff.db_pool_stats / puff.postgres_config as its functions. Call before the interpreter
// starts.
void register_builtin();

}  // namespace puff::psycopg
