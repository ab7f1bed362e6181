// NativeError: how the native layer reports failures to the Python package, which turns them
// into psycopg2's exception classes (_exceptions.from_native). Python-facing: GIL held.
#pragma once

#include <exception>

#include "pg/error.h"
#include "python/pyref.h"

namespace puff::psycopg {

// Adds NativeError to the module. Throws ErrorAlreadySet.
void add_native_error(PyObject* module);

// Sets NativeError (kind, code = sqlstate, message, detail, diag) as the pending exception;
// returns nullptr. The one place a pg::Error becomes Python; psycopg2's package maps
// NativeError to its exception tree (_exceptions.from_native).
PyObject* raise_native(const pg::Error& error);
// The same for misuse detected here (kind "interface": psycopg2's InterfaceError).
PyObject* raise_interface(const char* message);

// The module's exception translator (python/kit/boundary.h): pg::UsageError, a misuse of a
// session (e.g. a second operation on a busy connection), becomes InterfaceError.
bool translate_usage_error(const std::exception& error);

}  // namespace puff::psycopg
