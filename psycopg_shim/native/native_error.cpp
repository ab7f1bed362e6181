#include "native_error.h"

#include <libpq-fe.h>

#include "pg/result.h"

namespace puff::psycopg {
namespace {

PyObject* native_error_type = nullptr;  // owned by the module for the process's life

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

PyObject* raise(const char* kind, const std::string& sqlstate, const std::string& message,
                const pg::Result* server_result) {
  python::PyRef diag = python::PyRef::steal(PyDict_New());
  if (!diag) return nullptr;
  if (server_result) {
    for (const DiagField& f : kDiagFields) {
      std::string_view v = server_result->error_field(f.code);
      if (!PQresultErrorField(server_result->get(), f.code)) continue;
      python::PyRef value = python::PyRef::steal(text(v));
      if (!value || PyDict_SetItemString(diag.get(), f.name, value.get()) < 0) return nullptr;
    }
  }
  python::PyRef args = python::PyRef::steal(Py_BuildValue("(s s N O)", kind, sqlstate.c_str(),
                                                          text(message), diag.get()));
  if (!args) return nullptr;
  python::PyRef error = python::PyRef::steal(PyObject_Call(native_error_type, args.get(), nullptr));
  if (!error) return nullptr;
  static const char* kNames[] = {"kind", "sqlstate", "message", "diag"};
  for (int i = 0; i < 4; ++i) {
    if (PyObject_SetAttrString(error.get(), kNames[i], PyTuple_GET_ITEM(args.get(), i)) < 0) {
      return nullptr;
    }
  }
  PyErr_SetObject(native_error_type, error.get());
  return nullptr;
}

}  // namespace

bool add_native_error(PyObject* module) {
  if (!native_error_type) {
    native_error_type = PyErr_NewExceptionWithDoc(
        "psycopg2._psycopg.NativeError",
        "A failure of the native layer: (kind, sqlstate, message, diag). psycopg2's package "
        "turns it into the matching psycopg2 exception.",
        nullptr, nullptr);
    if (!native_error_type) return false;
  }
  return PyModule_AddObjectRef(module, "NativeError", native_error_type) == 0;
}

PyObject* raise_native(const pg::Error& error) {
  // psycopg2's pgerror (and str(exception)) is libpq's full text for server errors.
  std::string message = error.message;
  if (error.server_result) {
    message = std::string(error.server_result->error_message());
  } else if (!message.empty() && message.back() != '\n') {
    message += '\n';
  }
  return raise(pg::kind_name(error.kind), error.sqlstate, message, error.server_result.get());
}

PyObject* raise_interface(const char* message) { return raise("interface", "", message, nullptr); }

}  // namespace puff::psycopg
