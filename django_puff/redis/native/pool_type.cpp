// Pool: Python's handle on the process-shared redis::Pool for one set of options. Commands of
// all callers are pipelined on the pool's few connections (see redis/pool.h).
#include <memory>
#include <new>

#include "call.h"
#include "convert.h"
#include "objects.h"
#include "python/kit/types.h"
#include "python/native_io.h"
#include "redis/pool_registry.h"

namespace puff::redis_client {
namespace {

struct PoolState {
  std::shared_ptr<redis::Pool> pool;
  redis::PoolOptions options;
  unsigned fork_generation = python::fork_generation();

  ~PoolState() {
    // A forked child: the parent's pool has no IO threads here; leave it untouched (leaked).
    if (fork_generation != python::fork_generation()) {
      new (std::nothrow) std::shared_ptr<redis::Pool>(std::move(pool));
    }
  }
};

python::Pinned<PyTypeObject> pool_type;

// The shared pool for the handle's options. In a child of fork() the parent's pools have no
// IO threads: the registry forgets them (once per fork) and the handle gets a new one.
redis::Pool* pool_of(PyObject* self) {
  PoolState& state = python::state_of<PoolState>(self);
  unsigned now = python::fork_generation();
  if (state.fork_generation == now) return state.pool.get();
  static unsigned forgotten_for = 0;
  if (forgotten_for != now) {
    redis::abandon_shared_pools_after_fork();
    forgotten_for = now;
  }
  new std::shared_ptr<redis::Pool>(std::move(state.pool));  // the parent's: leaked, untouched
  state.pool = redis::shared_pool(python::native_io(), state.options);
  state.fork_generation = now;
  return state.pool.get();
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
  auto state = std::make_unique<PoolState>();
  redis::PoolOptions& options = state->options;
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
  state->pool = redis::shared_pool(python::native_io(), options);  // a bad URL: ValueError
  return python::make_native(type, std::move(state)).release();
}

PyObject* execute(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return execute_vectorcall([self] { return pool_of(self); }, args, nargs, kwnames);
}

PyObject* execute_many(PyObject* self, PyObject* args, PyObject* kwargs) {
  return execute_many_call([self] { return pool_of(self); }, args, kwargs);
}

PyObject* dedicated(PyObject* self, PyObject*) {
  redis::Pool* pool = pool_of(self);
  redis::Dedicated lease;
  if (!borrow_dedicated(*pool, &lease)) return nullptr;
  return new_dedicated(std::move(lease));
}

PyObject* stats(PyObject* self, PyObject*) { return stats_dict(pool_of(self)->stats()); }

PyObject* get_name(PyObject* self, void*) {
  return PyUnicode_FromString(python::state_of<PoolState>(self).options.name.c_str());
}

PyObject* get_where(PyObject* self, void*) {
  const PoolState& state = python::state_of<PoolState>(self);
  return PyUnicode_FromString(state.pool ? state.pool->where().c_str() : "");
}

PyMethodDef methods[] = {
    python::method<execute, METH_FASTCALL | METH_KEYWORDS>(
        "execute",
        "execute(*args, timeout=None): one command, pipelined with everyone else's; its reply "
        "(bytes, int, str status, list, None), ResponseError raised for an error reply."),
    python::method<execute_many, METH_VARARGS | METH_KEYWORDS>(
        "execute_many",
        "execute_many(commands, timeout=None) -> replies: the commands back to back in one round "
        "trip (MULTI first and EXEC last make it a transaction); error replies as ResponseError "
        "instances in their place."),
    python::method<dedicated, METH_NOARGS>(
        "dedicated",
        "dedicated() -> Dedicated: a connection of your own (WATCH, blocking commands, "
        "SUBSCRIBE)."),
    python::method<stats, METH_NOARGS>("stats", "stats() -> dict of the pool's counters."),
    python::kEndMethods};

PyGetSetDef getset[] = {python::getter<get_name>("name", "The pool's name ([[redis]] entry)."),
                        python::getter<get_where>("where", "host:port or the socket path."),
                        python::kEndGetters};

PyType_Slot slots[] = {
    python::slot<Py_tp_new, pool_new>(),
    python::slot<Py_tp_dealloc, python::native_dealloc<PoolState>>(),
    {Py_tp_methods, methods},
    {Py_tp_getset, getset},
    {Py_tp_doc,
     const_cast<char*>("Pool(url, *, name='default', size=4, connect_timeout=5.0, "
                       "command_timeout=5.0, reconnect_backoff_max=10.0): the process's shared "
                       "pool for these settings.")},
    {0, nullptr}};

PyType_Spec spec = {"django_puff._redis.Pool", sizeof(python::NativeObject<PoolState>), 0,
                    Py_TPFLAGS_DEFAULT, slots};

}  // namespace

void add_pool_type(PyObject* module) { python::add_type(module, "Pool", spec, pool_type); }

}  // namespace puff::redis_client
