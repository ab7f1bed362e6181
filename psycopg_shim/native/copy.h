// PGConn.copy(query, read, write): a statement that may run COPY FROM STDIN / TO STDOUT, its data
// read from or written to Python between the steps of pg::Connection::copy(). Waits as every
// PGConn operation does (greenlet parks in the hub, GIL released elsewhere).
//   read()       -> bytes-like, the next chunk for COPY FROM STDIN; empty: the end of the data.
//   write(bytes) -> the next batch of COPY TO STDOUT data (whole rows in text/CSV format).
// When read() raises, the COPY fails on the server with "error in .read() call: <type>
// <message>" and that server error is raised, caused by read()'s exception (psycopg2's
// behaviour); when write() raises, the rest of the data is dropped and its exception raised.
// Exceptions that are not Exceptions (KeyboardInterrupt, GreenletExit) close the session at
// once. Returns the last result (a COPY's is "COPY n") or None, like execute().
#pragma once

#include "python/pyref.h"

namespace puff::psycopg {

PyObject* copy(PyObject* self, PyObject* args);

}  // namespace puff::psycopg
