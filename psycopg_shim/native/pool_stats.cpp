#include "pool_stats.h"

#include <mutex>

#include "pg/pool_registry.h"
#include "python/kit/types.h"
#include "python/native_io.h"
#include "python/pyref.h"

namespace puff::psycopg {
namespace {

using python::PyRef;
using python::require;

// Written once before the interpreter starts, read under the GIL afterwards.
std::vector<config::PostgresConfig>& postgres_entries() {
  static auto* entries = new std::vector<config::PostgresConfig>;
  return *entries;
}

PyObject* stats_entry(const pg::PoolStats& s) {
  auto count = [](std::uint64_t n) { return static_cast<unsigned long long>(n); };
  return Py_BuildValue(
      "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:K, s:d, s:d, s:K, s:K, s:K, s:K, s:K, s:N}",
      "name", s.name.c_str(), "min", s.min, "max", s.max, "size", s.size, "idle", s.idle,
      "in_use", s.in_use, "opening", s.opening, "waiting", s.waiting, "acquired_total",
      count(s.acquired_total), "acquire_wait_total_s", s.acquire_wait_total_s,
      "acquire_wait_max_s", s.acquire_wait_max_s, "timeouts_total", count(s.timeouts_total),
      "created_total", count(s.created_total), "connect_failures_total",
      count(s.connect_failures_total), "health_check_failures_total",
      count(s.health_check_failures_total), "dropped_total", count(s.dropped_total),
      "last_connect_error",  // libpq's text: UTF-8 in practice, but never fail over it
      PyUnicode_DecodeUTF8(s.last_connect_error.data(),
                           static_cast<Py_ssize_t>(s.last_connect_error.size()), "replace"));
}

PyObject* config_entry(const config::PostgresConfig& pg) {
  return Py_BuildValue("{s:s, s:i, s:i, s:d, s:d, s:d, s:d, s:d, s:O}", "url", pg.url.c_str(),
                       "min_size", pg.min_size, "max_size", pg.max_size, "acquire_timeout",
                       pg.acquire_timeout_s, "health_check_after", pg.health_check_after_s,
                       "connect_timeout", pg.connect_timeout_s, "statement_timeout",
                       pg.statement_timeout_s, "reconnect_backoff_max",
                       pg.reconnect_backoff_max_s, "implicit",
                       pg.implicit ? Py_True : Py_False);
}

// pool_stats() -> [{name, min, max, size, idle, in_use, ...}, ...], ordered by name.
PyObject* pool_stats(PyObject*, PyObject*) {
  std::vector<pg::PoolStats> all = pg::shared_pool_stats();
  PyRef out = PyRef::steal(require(PyList_New(static_cast<Py_ssize_t>(all.size()))));
  for (size_t i = 0; i < all.size(); ++i) {
    PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), require(stats_entry(all[i])));
  }
  return out.release();
}

PyObject* postgres_config(PyObject*, PyObject*) {
  PyRef out = PyRef::steal(require(PyDict_New()));
  for (const auto& entry : postgres_entries()) {
    PyRef value = PyRef::steal(require(config_entry(entry)));
    require(PyDict_SetItemString(out.get(), entry.name.c_str(), value.get()) == 0);
  }
  return out.release();
}

// close_pools(conninfo) -> how many shared pools to that database were closed, their idle
// server connections at once: before the database is dropped (Django's test database).
PyObject* close_pools(PyObject*, PyObject* conninfo) {
  const char* text = require(PyUnicode_AsUTF8(conninfo));
  return PyLong_FromSize_t(pg::close_shared_pools_to_database(text));
}

PyMethodDef methods[] = {
    python::method<pool_stats, METH_NOARGS>(
        "pool_stats", "pool_stats() -> [dict]: every PostgreSQL pool's size, idle, in_use, "
                      "waiting and counters, ordered by name (also puff.db_pool_stats())."),
    python::method<postgres_config, METH_NOARGS>(
        "postgres_config",
        "postgres_config() -> {name: dict}: the [[postgres]] entries of the loaded configuration "
        "(implicit=True for the default entry nobody wrote; empty outside puff)."),
    python::method<close_pools, METH_O>(
        "close_pools",
        "close_pools(conninfo) -> int: close every pool to the database conninfo names (same "
        "host, hostaddr, port and dbname, whatever its other settings)"),
    python::kEndMethods};

}  // namespace

void set_postgres_config(std::vector<config::PostgresConfig> entries) {
  postgres_entries() = std::move(entries);
}

std::shared_ptr<pg::Pool> shared_pool(const pg::PoolOptions& options) {
  static std::once_flag close_at_exit;
  std::call_once(close_at_exit, [] { Py_AtExit(pg::close_shared_pools); });
  return pg::shared_pool(python::native_io(), options);
}

void add_pool_functions(PyObject* module) {
  require(PyModule_AddFunctions(module, methods) == 0);
}

}  // namespace puff::psycopg
