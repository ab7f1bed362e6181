#include "python/db_functions.h"

#include "pg/pool_registry.h"
#include "python/pyref.h"

namespace puff::python {
namespace {

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

PyObject* db_pool_stats(PyObject*, PyObject*) { return db_pool_stats_list(); }

PyObject* postgres_config(PyObject*, PyObject*) {
  PyRef out = PyRef::steal(PyDict_New());
  if (!out) return nullptr;
  for (const auto& entry : postgres_entries()) {
    PyRef value = PyRef::steal(config_entry(entry));
    if (!value || PyDict_SetItemString(out.get(), entry.name.c_str(), value.get()) < 0) {
      return nullptr;
    }
  }
  return out.release();
}

PyMethodDef methods[] = {
    {"db_pool_stats", db_pool_stats, METH_NOARGS,
     "db_pool_stats() -> [dict]: every PostgreSQL pool's size, idle, in_use, waiting and "
     "counters, ordered by name."},
    {"postgres_config", postgres_config, METH_NOARGS,
     "postgres_config() -> {name: dict}: the [[postgres]] entries of the loaded configuration "
     "(implicit=True for the default entry nobody wrote)."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

void set_postgres_config(std::vector<config::PostgresConfig> entries) {
  postgres_entries() = std::move(entries);
}

PyObject* db_pool_stats_list() {
  std::vector<pg::PoolStats> all = pg::shared_pool_stats();
  PyRef out = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(all.size())));
  if (!out) return nullptr;
  for (size_t i = 0; i < all.size(); ++i) {
    PyObject* entry = stats_entry(all[i]);
    if (!entry) return nullptr;
    PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), entry);
  }
  return out.release();
}

bool add_db_functions(PyObject* module) { return PyModule_AddFunctions(module, methods) == 0; }

}  // namespace puff::python
