// NativeError: how the native layer reports failures to the Python package, which turns them
// into psycopg2's exception classes (_exceptions.from_native). Python-facing: GIL held.
#pragma once

#include "pg/error.h"
#include "python/pyref.h"

namespace puff::psycopg {

// Adds NativeError to the module; false with a Python exception set on failure.
bool add_native_error(PyObject* module);

// Sets NativeError(kind, sqlstate, message, diag) as the pending exception; returns nullptr.
PyObject* raise_native(const pg::Error& error);
// The same for misuse detected here (kind "interface": psycopg2's InterfaceError).
PyObject* raise_interface(const char* message);

}  // namespace puff::psycopg
