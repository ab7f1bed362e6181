#include "module.h"

#include <mutex>

#include "convert.h"
#include "objects.h"
#include "python/kit/types.h"
#include "python/puff_module.h"
#include "python/pyref.h"
#include "redis/error.h"
#include "redis/pool_registry.h"

namespace puff::redis_client {
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
  PyRef out = PyRef::steal(python::require(PyDict_New()));
  for (const RedisEntry& entry : entries()) {
    PyRef value = PyRef::steal(python::require(config_entry(entry)));
    python::require(PyDict_SetItemString(out.get(), entry.config.name.c_str(), value.get()) == 0);
  }
  return out.release();
}

PyObject* pool_stats(PyObject*, PyObject*) {
  std::vector<redis::PoolStats> all = redis::shared_pool_stats();
  PyRef out = PyRef::steal(python::require(PyList_New(static_cast<Py_ssize_t>(all.size()))));
  for (size_t i = 0; i < all.size(); ++i) {
    PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), python::require(stats_dict(all[i])));
  }
  return out.release();
}

// A bad URL or pool setting given to the native layer is the caller's ValueError.
bool translate_usage_error(const std::exception& error) {
  if (!dynamic_cast<const redis::UsageError*>(&error)) return false;
  PyErr_SetString(PyExc_ValueError, error.what());
  return true;
}

PyMethodDef methods[] = {
    python::method<redis_config, METH_NOARGS>(
        "redis_config",
        "redis_config() -> {name: dict}: puff.toml's [[redis]] entries (empty outside puff); "
        "'problem' is non-empty when the URL could not be resolved."),
    python::method<pool_stats, METH_NOARGS>(
        "pool_stats", "pool_stats() -> [dict]: every Redis pool of the process, by name."),
    python::method<python::live_objects_dict, METH_NOARGS>(
        "_live_objects", "_live_objects() -> {type name: instances alive} (leak tests)"),
    python::kEndMethods};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "django_puff._redis",
                          "Native Redis pools for django_puff.redis and django_puff.cache.", -1,
                          methods};

PyObject* init_module() {
  static std::once_flag close_at_exit;
  // Pools must close while the IO threads still run: at interpreter exit, not in a static
  // destructor.
  std::call_once(close_at_exit, [] { Py_AtExit(redis::close_shared_pools); });
  python::register_exception_translator(translate_usage_error);
  PyRef module = python::create_module(module_def);
  add_exceptions(module.get());
  add_pool_type(module.get());
  add_dedicated_type(module.get());
  return module.release();
}

}  // namespace

void set_redis_config(std::vector<RedisEntry> new_entries) { entries() = std::move(new_entries); }

void register_builtin() {
  PyImport_AppendInittab("django_puff._redis", &PyInit__redis);
  python::expose_in_puff("redis", "django_puff.redis");
}

}  // namespace puff::redis_client

extern "C" PyMODINIT_FUNC PyInit__redis() {
  return puff::python::guarded<puff::redis_client::init_module>();
}
