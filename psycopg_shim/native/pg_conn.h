// PGConn: one PostgreSQL session for the Python package (psycopg2's connection keeps one).
// Every operation waits through wait_native: in a hub greenlet it parks, elsewhere it blocks
// with the GIL released. One operation at a time: another greenlet using the same PGConn gets
// an InterfaceError (one connection per greenlet), another thread waits its turn.
#pragma once

#include "python/pyref.h"

namespace puff::psycopg {

// Adds the PGConn type, connect() and connect_pooled() to the module. Throws ErrorAlreadySet.
void add_connection_type(PyObject* module);

}  // namespace puff::psycopg
