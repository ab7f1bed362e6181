// Pool: Python's handle on the process-shared redis::Pool for one set of options. Commands of
// all callers are pipelined on the pool's few connections (see redis/pool.h).
#include <new>

#include "python/native_io.h"
#include "call.h"
#include "convert.h"
#include "objects.h"
#include "redis/pool_registry.h"

namespace puff::python::redis_client {
namespace {

struct PoolObject {
  PyObject_HEAD
  std::shared_ptr<redis::Pool> pool;
  redis::PoolOptions options;
  unsigned fork_generation;
};

// The shared pool for the handle's options. In a child of fork() the parent's pools have no
// IO threads: the registry forgets them (once per fork) and the handle gets a new one.
redis::Pool* pool_of(PoolObject* self) {
  unsigned now = fork_generation();
  if (self->fork_generation == now) return self->pool.get();
  static unsigned forgotten_for = 0;
  if (forgotten_for != now) {
    redis::abandon_shared_pools_after_fork();
    forgotten_for = now;
  }
  new std::shared_ptr<redis::Pool>(std::move(self->pool));  // the parent's: leaked, untouched
  try {
    self->pool = redis::shared_pool(native_io(), self->options);
  } catch (const redis::UsageError& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
    return nullptr;
  }
  self->fork_generation = now;
  return self->pool.get();
}

bool parse_double(PyObject* value, const char* name, double* out, bool zero_allowed) {
  if (!value) return true;
  double number = PyFloat_AsDouble(value);
  if (number == -1 && PyErr_Occurred()) return false;
  if (!(number > 0 || (zero_allowed && number == 0))) {
    PyErr_Format(PyExc_ValueError, "%s must be a %s number of seconds", name,
                 zero_allowed ? "non-negative" : "positive");
    return false;
  }
  *out = number;
  return true;
}

PyObject* pool_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"url",     "name",          "size", "connect_timeout",
                                   "command_timeout", "reconnect_backoff_max", nullptr};
  const char* url = nullptr;
  const char* name = "default";
  int size = 4;
  PyObject *connect_timeout = nullptr, *command_timeout = nullptr, *backoff_max = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|$siOOO:Pool", const_cast<char**>(keywords),
                                   &url, &name, &size, &connect_timeout, &command_timeout,
                                   &backoff_max)) {
    return nullptr;
  }
  redis::PoolOptions options;
  options.url = url;
  options.name = name;
  options.size = size;
  if (size < 1) {
    PyErr_Format(PyExc_ValueError, "size must be at least 1 (got %d)", size);
    return nullptr;
  }
  if (!parse_double(connect_timeout, "connect_timeout", &options.connect_timeout_s, false) ||
      !parse_double(command_timeout, "command_timeout", &options.command_timeout_s, true) ||
      !parse_double(backoff_max, "reconnect_backoff_max", &options.reconnect_backoff_max_s,
                    false)) {
    return nullptr;
  }
  std::shared_ptr<redis::Pool> pool;
  try {
    pool = redis::shared_pool(native_io(), options);
  } catch (const redis::UsageError& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
    return nullptr;
  }
  auto* self = reinterpret_cast<PoolObject*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  new (&self->pool) std::shared_ptr<redis::Pool>(std::move(pool));
  new (&self->options) redis::PoolOptions(std::move(options));
  self->fork_generation = fork_generation();
  return reinterpret_cast<PyObject*>(self);
}

void pool_dealloc(PyObject* self_object) {
  auto* self = reinterpret_cast<PoolObject*>(self_object);
  if (self->fork_generation != fork_generation()) {
    new std::shared_ptr<redis::Pool>(std::move(self->pool));  // a forked child: leave it be
  }
  self->pool.~shared_ptr();
  self->options.~PoolOptions();
  PyTypeObject* type = Py_TYPE(self_object);
  type->tp_free(self_object);
  Py_DECREF(type);
}

PyObject* execute(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return execute_vectorcall([self] { return pool_of(reinterpret_cast<PoolObject*>(self)); }, args,
                            nargs, kwnames);
}

PyObject* execute_many(PyObject* self, PyObject* args, PyObject* kwargs) {
  return execute_many_call([self] { return pool_of(reinterpret_cast<PoolObject*>(self)); }, args,
                           kwargs);
}

PyObject* dedicated(PyObject* self_object, PyObject*) {
  redis::Pool* pool = pool_of(reinterpret_cast<PoolObject*>(self_object));
  if (!pool) return nullptr;
  redis::Dedicated lease;
  if (!borrow_dedicated(*pool, &lease)) return nullptr;
  return new_dedicated(std::move(lease));
}

PyObject* stats(PyObject* self_object, PyObject*) {
  redis::Pool* pool = pool_of(reinterpret_cast<PoolObject*>(self_object));
  if (!pool) return nullptr;
  return stats_dict(pool->stats());
}

PyObject* get_name(PyObject* self_object, void*) {
  return PyUnicode_FromString(reinterpret_cast<PoolObject*>(self_object)->options.name.c_str());
}

PyObject* get_where(PyObject* self_object, void*) {
  auto* self = reinterpret_cast<PoolObject*>(self_object);
  return PyUnicode_FromString(self->pool ? self->pool->where().c_str() : "");
}

PyMethodDef methods[] = {
    {"execute", as_method(execute), METH_FASTCALL | METH_KEYWORDS,
     "execute(*args, timeout=None): one command, pipelined with everyone else's; its reply "
     "(bytes, int, str status, list, None), ResponseError raised for an error reply."},
    {"execute_many", as_method(execute_many), METH_VARARGS | METH_KEYWORDS,
     "execute_many(commands, timeout=None) -> replies: the commands back to back in one round "
     "trip (MULTI first and EXEC last make it a transaction); error replies as ResponseError "
     "instances in their place."},
    {"dedicated", dedicated, METH_NOARGS,
     "dedicated() -> Dedicated: a connection of your own (WATCH, blocking commands, "
     "SUBSCRIBE)."},
    {"stats", stats, METH_NOARGS, "stats() -> dict of the pool's counters."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef getset[] = {
    {"name", get_name, nullptr, "The pool's name ([[redis]] entry).", nullptr},
    {"where", get_where, nullptr, "host:port or the socket path.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(pool_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(pool_dealloc)},
    {Py_tp_methods, methods},
    {Py_tp_getset, getset},
    {Py_tp_doc,
     const_cast<char*>("Pool(url, *, name='default', size=4, connect_timeout=5.0, "
                       "command_timeout=5.0, reconnect_backoff_max=10.0): the process's shared "
                       "pool for these settings.")},
    {0, nullptr}};

PyType_Spec spec = {"django_puff._redis.Pool", sizeof(PoolObject), 0, Py_TPFLAGS_DEFAULT, slots};
PyTypeObject* pool_type = nullptr;

}  // namespace

bool add_pool_type(PyObject* module) { return add_type(module, "Pool", &spec, &pool_type); }

}  // namespace puff::python::redis_client
