// PGResult: one query result handed to the Python package. Owns the PGresult; builds rows in
// C++ with the cursor's typecasters (built-in ones converted natively, others called).
#pragma once

#include "pg/result.h"
#include "python/pyref.h"

namespace puff::psycopg {

// Throws ErrorAlreadySet.
void add_result_type(PyObject* module);
// A new PGResult owning `result`. GIL held; throws ErrorAlreadySet.
PyObject* wrap_result(pg::Result result);

}  // namespace puff::psycopg
