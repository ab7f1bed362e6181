#include "native_error.h"

#include <libpq-fe.h>

#include "pg/result.h"
#include "python/kit/native_error.h"
#include "python/kit/types.h"

namespace puff::psycopg {
namespace {

python::Pinned<> native_error_type;  // psycopg2._psycopg.NativeError

// libpq's diagnostic fields under the attribute names of psycopg2's Diagnostics.
struct DiagField {
  int code;
  const char* name;
};
constexpr DiagField kDiagFields[] = {
    {PG_DIAG_SEVERITY, "severity"},
    {PG_DIAG_SEVERITY_NONLOCALIZED, "severity_nonlocalized"},
    {PG_DIAG_SQLSTATE, "sqlstate"},
    {PG_DIAG_MESSAGE_PRIMARY, "message_primary"},
    {PG_DIAG_MESSAGE_DETAIL, "message_detail"},
    {PG_DIAG_MESSAGE_HINT, "message_hint"},
    {PG_DIAG_STATEMENT_POSITION, "statement_position"},
    {PG_DIAG_INTERNAL_POSITION, "internal_position"},
    {PG_DIAG_INTERNAL_QUERY, "internal_query"},
    {PG_DIAG_CONTEXT, "context"},
    {PG_DIAG_SCHEMA_NAME, "schema_name"},
    {PG_DIAG_TABLE_NAME, "table_name"},
    {PG_DIAG_COLUMN_NAME, "column_name"},
    {PG_DIAG_DATATYPE_NAME, "datatype_name"},
    {PG_DIAG_CONSTRAINT_NAME, "constraint_name"},
    {PG_DIAG_SOURCE_FILE, "source_file"},
    {PG_DIAG_SOURCE_LINE, "source_line"},
    {PG_DIAG_SOURCE_FUNCTION, "source_function"},
};

// Server text may be in any client encoding: never fail on it, keep what can be kept.
PyObject* text(std::string_view s) {
  return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
}

// psycopg2's diagnostics of a server error, by psycopg2's attribute names.
python::PyRef diagnostics(const pg::Result* server_result) {
  python::PyRef diag = python::PyRef::steal(python::require(PyDict_New()));
  if (!server_result) return diag;
  for (const DiagField& f : kDiagFields) {
    if (!PQresultErrorField(server_result->get(), f.code)) continue;
    python::PyRef value = python::PyRef::steal(python::require(text(server_result->error_field(f.code))));
    python::require(PyDict_SetItemString(diag.get(), f.name, value.get()) == 0);
  }
  return diag;
}

// NativeError with the shape every native layer reports (kind, code, message, detail), plus
// what psycopg2's package needs: `sqlstate` (the code) and `diag`.
PyObject* raise(std::string_view kind, const std::string& sqlstate, const std::string& message,
                const std::string& detail, const pg::Result* server_result) {
  python::PyRef extra = python::PyRef::steal(python::require(PyDict_New()));
  python::PyRef code = python::PyRef::steal(python::require(text(sqlstate)));
  python::PyRef diag = diagnostics(server_result);
  python::require(PyDict_SetItemString(extra.get(), "sqlstate", code.get()) == 0);
  python::require(PyDict_SetItemString(extra.get(), "diag", diag.get()) == 0);
  return python::raise_native_error(native_error_type.get(), {kind, sqlstate, message, detail},
                                    extra.get());
}

}  // namespace

void add_native_error(PyObject* module) {
  if (!native_error_type) {
    native_error_type.pin(python::PyRef::steal(python::require(PyErr_NewExceptionWithDoc(
        "psycopg2._psycopg.NativeError",
        "A failure of the native layer, with attributes kind, code (= sqlstate), message, "
        "detail and diag. psycopg2's package turns it into the matching psycopg2 exception.",
        nullptr, nullptr))));
  }
  python::add_object(module, "NativeError", native_error_type.get());
}

PyObject* raise_native(const pg::Error& error) {
  // psycopg2's pgerror (and str(exception)) is libpq's full text for server errors.
  std::string message = error.message;
  if (error.server_result) {
    message = std::string(error.server_result->error_message());
  } else if (!message.empty() && message.back() != '\n') {
    message += '\n';
  }
  return raise(pg::kind_name(error.kind), error.sqlstate, message, error.detail,
               error.server_result.get());
}

PyObject* raise_interface(const char* message) {
  return raise("interface", "", message, "", nullptr);
}

bool translate_usage_error(const std::exception& error) {
  if (!dynamic_cast<const pg::UsageError*>(&error)) return false;
  raise_interface(error.what());
  return true;
}

}  // namespace puff::psycopg
