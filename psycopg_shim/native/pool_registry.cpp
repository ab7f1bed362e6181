#include "pool_registry.h"

#include <mutex>

#include "python/native_io.h"
#include "pg/pool_registry.h"
#include "python/db_functions.h"

namespace puff::psycopg {
namespace {

PyObject* py_pool_stats(PyObject*, PyObject*) { return python::db_pool_stats_list(); }

// close_pools(conninfo) -> how many shared pools to that database were closed, their idle
// server connections at once: before the database is dropped (Django's test database).
PyObject* py_close_pools(PyObject*, PyObject* conninfo) {
  const char* text = PyUnicode_AsUTF8(conninfo);
  if (!text) return nullptr;
  return PyLong_FromSize_t(pg::close_shared_pools_to_database(text));
}

PyMethodDef methods[] = {
    {"pool_stats", py_pool_stats, METH_NOARGS,
     "pool_stats() -> [dict] for every pool (as puff.db_pool_stats())"},
    {"close_pools", py_close_pools, METH_O,
     "close_pools(conninfo) -> int: close every pool to the database conninfo names (same "
     "host, hostaddr, port and dbname, whatever its other settings)"},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

std::shared_ptr<pg::Pool> shared_pool(const pg::PoolOptions& options) {
  static std::once_flag close_at_exit;
  std::call_once(close_at_exit, [] { Py_AtExit(pg::close_shared_pools); });
  return pg::shared_pool(python::native_io(), options);
}

bool add_pool_functions(PyObject* module) { return PyModule_AddFunctions(module, methods) == 0; }

}  // namespace puff::psycopg
