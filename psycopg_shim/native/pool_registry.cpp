#include "pool_registry.h"

#include <map>
#include <mutex>
#include <string>

#include "connection_io.h"

namespace puff::psycopg {
namespace {

std::mutex registry_mutex;
// Leaked on purpose: pools must be closed while the IO threads still exist (at Py_AtExit),
// never by a static destructor running after them.
auto* pools = new std::map<std::string, std::shared_ptr<pg::Pool>>;

std::string key_of(const pg::PoolOptions& o) {
  return o.name + '\n' + o.conninfo + '\n' + std::to_string(o.min_size) + '\n' +
         std::to_string(o.max_size) + '\n' + std::to_string(o.acquire_timeout_s) + '\n' +
         std::to_string(o.connect_timeout_s);
}

void close_all() {
  std::map<std::string, std::shared_ptr<pg::Pool>> closing;
  {
    std::lock_guard lock(registry_mutex);
    closing.swap(*pools);
  }
  for (auto& [key, pool] : closing) pool->close();
}

PyObject* stats_entry(const pg::PoolStats& s) {
  return Py_BuildValue("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:K, s:K, s:K, s:K}", "name",
                       s.name.c_str(), "min", s.min, "max", s.max, "size", s.size, "idle", s.idle,
                       "in_use", s.in_use, "waiting", s.waiting, "acquired_total",
                       static_cast<unsigned long long>(s.acquired_total), "created_total",
                       static_cast<unsigned long long>(s.created_total),
                       "connect_failures_total",
                       static_cast<unsigned long long>(s.connect_failures_total),
                       "timeouts_total", static_cast<unsigned long long>(s.timeouts_total));
}

PyObject* py_pool_stats(PyObject*, PyObject*) {
  std::vector<pg::PoolStats> all = pool_stats();
  python::PyRef out = python::PyRef::steal(PyList_New(static_cast<Py_ssize_t>(all.size())));
  if (!out) return nullptr;
  for (size_t i = 0; i < all.size(); ++i) {
    PyObject* entry = stats_entry(all[i]);
    if (!entry) return nullptr;
    PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), entry);
  }
  return out.release();
}

PyMethodDef methods[] = {
    {"pool_stats", py_pool_stats, METH_NOARGS, "pool_stats() -> [dict] for every pool"},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

std::shared_ptr<pg::Pool> shared_pool(const pg::PoolOptions& options) {
  std::lock_guard lock(registry_mutex);
  if (pools->empty()) Py_AtExit(close_all);
  auto& pool = (*pools)[key_of(options)];
  if (!pool) {
    pool = pg::Pool::create(connection_io(), options);
    pool->start();
  }
  return pool;
}

std::vector<pg::PoolStats> pool_stats() {
  std::lock_guard lock(registry_mutex);
  std::vector<pg::PoolStats> out;
  for (auto& [key, pool] : *pools) out.push_back(pool->stats());
  return out;
}

bool add_pool_functions(PyObject* module) { return PyModule_AddFunctions(module, methods) == 0; }

}  // namespace puff::psycopg
