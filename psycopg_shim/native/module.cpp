#include "module.h"

#include <libpq-fe.h>

#include <string>

#include "fast_mogrify.h"
#include "native_error.h"
#include "pg_conn.h"
#include "pg_result.h"
#include "pool_stats.h"
#include "python/kit/types.h"
#include "python/puff_module.h"
#include "python/pyref.h"
#include "row_builder.h"

namespace puff::psycopg {
namespace {

// parse_dsn(dsn) -> {keyword: value} of the keywords the string sets; ValueError with libpq's
// reason when it is not a valid conninfo string or URI.
PyObject* parse_dsn(PyObject*, PyObject* dsn_object) {
  const char* dsn = PyUnicode_AsUTF8(dsn_object);
  if (!dsn) return nullptr;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn, &error);
  if (!options) {
    PyErr_SetString(PyExc_ValueError, error ? error : "out of memory");
    if (error) PQfreemem(error);
    return nullptr;
  }
  python::PyRef out = python::PyRef::steal(PyDict_New());
  for (PQconninfoOption* o = options; out && o->keyword; ++o) {
    if (!o->val) continue;
    python::PyRef value = python::PyRef::steal(PyUnicode_FromString(o->val));
    if (!value || PyDict_SetItemString(out.get(), o->keyword, value.get()) < 0) out.reset();
  }
  PQconninfoFree(options);
  return out.release();
}

PyObject* libpq_version(PyObject*, PyObject*) { return PyLong_FromLong(PQlibVersion()); }

// unescape_bytea(text) -> bytes: bytea's text form (hex or escape) decoded, as libpq does.
PyObject* unescape_bytea(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return nullptr;
  std::string text(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  size_t size = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text.c_str()), &size);
  if (!raw) return PyErr_NoMemory();
  PyObject* out = PyBytes_FromStringAndSize(reinterpret_cast<char*>(raw),
                                            static_cast<Py_ssize_t>(size));
  PQfreemem(raw);
  return out;
}

PyMethodDef methods[] = {
    python::method<parse_dsn, METH_O>("parse_dsn", "parse_dsn(dsn) -> dict of the keywords it sets"),
    python::method<libpq_version, METH_NOARGS>("libpq_version", "libpq_version() -> e.g. 150018"),
    python::method<unescape_bytea, METH_O>("unescape_bytea",
                                           "unescape_bytea(text) -> bytes (PQunescapeBytea)"),
    python::method<python::live_objects_dict, METH_NOARGS>(
        "_live_objects", "_live_objects() -> {type name: instances alive} (leak tests)"),
    python::kEndMethods};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "psycopg2._psycopg",
                          "Native half of puff's psycopg2-compatible driver.", -1, methods};

PyObject* init_module() {
  python::register_exception_translator(translate_usage_error);
  python::PyRef module = python::create_module(module_def);
  add_native_error(module.get());
  add_result_type(module.get());
  add_caster_registry(module.get());
  add_fast_mogrify(module.get());
  add_connection_type(module.get());
  add_pool_functions(module.get());
  // psycopg2's registry SQLSTATE -> exception class: psycopg2.errors fills it, the raising code
  // and errors.lookup() read it (psycopg2's own tests edit it in place).
  python::PyRef registry = python::PyRef::steal(python::require(PyDict_New()));
  python::add_object(module.get(), "sqlstate_errors", registry.get());
  return module.release();
}

}  // namespace
}  // namespace puff::psycopg

extern "C" PyMODINIT_FUNC PyInit__psycopg() {
  return puff::python::guarded<puff::psycopg::init_module>();
}

// psycopg2's C entry point for the bytea typecaster, exported from its _psycopg module under
// this name and signature (programs and psycopg2's tests reach it through ctypes): `length`
// bytes of a bytea's text form -> memoryview; NULL (SQL NULL) -> None.
extern "C" [[gnu::visibility("default")]] PyObject* typecast_BINARY_cast(const char* text,
                                                                         Py_ssize_t length,
                                                                         PyObject* /*cursor*/) {
  if (!text) Py_RETURN_NONE;
  std::string terminated(text, static_cast<size_t>(length));
  return puff::psycopg::bytea_view(terminated.c_str());
}

void puff::psycopg::register_builtin() {
  PyImport_AppendInittab("psycopg2._psycopg", &PyInit__psycopg);
  puff::python::expose_in_puff("db_pool_stats", "psycopg2._psycopg:pool_stats");
  puff::python::expose_in_puff("postgres_config", "psycopg2._psycopg:postgres_config");
}
