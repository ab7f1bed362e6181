#include "module.h"

#include <mutex>

#include "python/pyref.h"
#include "convert.h"
#include "objects.h"
#include "redis/pool_registry.h"

namespace puff::python::redis_client {
namespace {

// Written once before the interpreter starts, read under the GIL afterwards.
std::vector<RedisEntry>& entries() {
  static auto* all = new std::vector<RedisEntry>;
  return *all;
}

PyObject* config_entry(const RedisEntry& entry) {
  const config::RedisConfig& c = entry.config;
  return Py_BuildValue("{s:s, s:i, s:d, s:d, s:d, s:O, s:s}", "url", c.url.c_str(), "pool_size",
                       c.pool_size, "connect_timeout", c.connect_timeout_s, "command_timeout",
                       c.command_timeout_s, "reconnect_backoff_max", c.reconnect_backoff_max_s,
                       "implicit", c.implicit ? Py_True : Py_False, "problem",
                       entry.problem.c_str());
}

PyObject* redis_config(PyObject*, PyObject*) {
  PyRef out = PyRef::steal(PyDict_New());
  if (!out) return nullptr;
  for (const RedisEntry& entry : entries()) {
    PyRef value = PyRef::steal(config_entry(entry));
    if (!value || PyDict_SetItemString(out.get(), entry.config.name.c_str(), value.get()) < 0) {
      return nullptr;
    }
  }
  return out.release();
}

PyObject* pool_stats(PyObject*, PyObject*) {
  std::vector<redis::PoolStats> all = redis::shared_pool_stats();
  PyRef out = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(all.size())));
  if (!out) return nullptr;
  for (size_t i = 0; i < all.size(); ++i) {
    PyObject* entry = stats_dict(all[i]);
    if (!entry) return nullptr;
    PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), entry);
  }
  return out.release();
}

PyMethodDef methods[] = {
    {"redis_config", redis_config, METH_NOARGS,
     "redis_config() -> {name: dict}: puff.toml's [[redis]] entries (empty outside puff); "
     "'problem' is non-empty when the URL could not be resolved."},
    {"pool_stats", pool_stats, METH_NOARGS,
     "pool_stats() -> [dict]: every Redis pool of the process, by name."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "django_puff._redis",
                          "Native Redis pools for django_puff.redis and django_puff.cache.", -1,
                          methods};

}  // namespace

bool add_type(PyObject* module, const char* name, PyType_Spec* spec, PyTypeObject** type) {
  if (!*type) {
    *type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(spec));
    if (!*type) return false;
  }
  return PyModule_AddObjectRef(module, name, reinterpret_cast<PyObject*>(*type)) == 0;
}

void set_redis_config(std::vector<RedisEntry> new_entries) { entries() = std::move(new_entries); }

void register_builtin() { PyImport_AppendInittab("django_puff._redis", &PyInit__redis); }

}  // namespace puff::python::redis_client

extern "C" PyMODINIT_FUNC PyInit__redis() {
  using namespace puff::python::redis_client;
  static std::once_flag close_at_exit;
  // Pools must close while the IO threads still run: at interpreter exit, not in a static
  // destructor.
  std::call_once(close_at_exit, [] { Py_AtExit(puff::redis::close_shared_pools); });
  puff::python::PyRef module = puff::python::PyRef::steal(PyModule_Create(&module_def));
  if (!module || !add_exceptions(module.get()) || !add_pool_type(module.get()) ||
      !add_dedicated_type(module.get())) {
    return nullptr;
  }
  return module.release();
}
