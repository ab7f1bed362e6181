// Dedicated: exclusive use of one Redis connection. A context manager: leaving the block gives
// the connection back (closed instead when the block raised: its state is unknown).
#include <memory>
#include <new>

#include "call.h"
#include "convert.h"
#include "objects.h"
#include "python/kit/types.h"
#include "python/native_io.h"

namespace puff::redis_client {
namespace {

struct DedicatedState {
  redis::Dedicated lease;
  unsigned fork_generation = python::fork_generation();

  ~DedicatedState() {
    // A forked child: the pool's IO threads are gone here; leave the parent's connection be.
    if (fork_generation != python::fork_generation()) {
      new (std::nothrow) redis::Dedicated(std::move(lease));
    }
  }
};

python::Pinned<PyTypeObject> dedicated_type;

DedicatedState& state_of(PyObject* self) { return python::state_of<DedicatedState>(self); }

// The lease's connection, or nullptr with an exception for a released one or one made before
// fork().
redis::Connection* connection_of(PyObject* self) {
  DedicatedState& state = state_of(self);
  if (state.fork_generation != python::fork_generation()) {
    PyErr_SetString(exceptions().connection_error.get(),
                    "this dedicated Redis connection was taken before fork(); take a new one "
                    "in the child");
    return nullptr;
  }
  if (!state.lease) {
    PyErr_SetString(exceptions().connection_error.get(),
                    "this dedicated Redis connection was already given back");
    return nullptr;
  }
  return &state.lease.connection();
}

PyObject* execute(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return execute_vectorcall([self] { return connection_of(self); }, args, nargs, kwnames);
}

PyObject* execute_many(PyObject* self, PyObject* args, PyObject* kwargs) {
  return execute_many_call([self] { return connection_of(self); }, args, kwargs);
}

PyObject* release(PyObject* self, PyObject*) {
  state_of(self).lease.release();
  Py_RETURN_NONE;
}

PyObject* discard(PyObject* self, PyObject*) {
  state_of(self).lease.discard();
  Py_RETURN_NONE;
}

PyObject* enter(PyObject* self, PyObject*) { return Py_NewRef(self); }

PyObject* exit_block(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  bool raised = nargs > 0 && args[0] != Py_None;
  if (raised) {
    state_of(self).lease.discard();
  } else {
    state_of(self).lease.release();
  }
  Py_RETURN_FALSE;
}

PyObject* get_active(PyObject* self, void*) {
  return PyBool_FromLong(static_cast<bool>(state_of(self).lease));
}

PyMethodDef methods[] = {
    python::method<execute, METH_FASTCALL | METH_KEYWORDS>(
        "execute",
        "execute(*args, timeout=None): one command on this connection (timeout 0 waits "
        "forever, for BLPOP & co.); its reply, a ResponseError raised for an error reply."),
    python::method<execute_many, METH_VARARGS | METH_KEYWORDS>(
        "execute_many",
        "execute_many(commands, timeout=None) -> replies in one round trip; error replies as "
        "ResponseError instances in their place."),
    python::method<release, METH_NOARGS>("release",
                                         "release(): gives the connection back to the pool."),
    python::method<discard, METH_NOARGS>("discard", "discard(): closes the connection instead."),
    python::method<enter, METH_NOARGS>("__enter__", nullptr),
    python::method<exit_block, METH_FASTCALL>("__exit__", nullptr),
    python::kEndMethods};

PyGetSetDef getset[] = {
    python::getter<get_active>("active", "True until the connection is given back."),
    python::kEndGetters};

PyType_Slot slots[] = {python::slot<Py_tp_dealloc, python::native_dealloc<DedicatedState>>(),
                       {Py_tp_methods, methods},
                       {Py_tp_getset, getset},
                       {Py_tp_doc, const_cast<char*>("A Redis connection of your own "
                                                     "(Pool.dedicated()).")},
                       {0, nullptr}};

PyType_Spec spec = {"django_puff._redis.Dedicated", sizeof(python::NativeObject<DedicatedState>),
                    0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};

}  // namespace

void add_dedicated_type(PyObject* module) {
  python::add_type(module, "Dedicated", spec, dedicated_type);
}

PyObject* new_dedicated(redis::Dedicated lease) {
  auto state = std::make_unique<DedicatedState>();
  state->lease = std::move(lease);
  return python::make_native(dedicated_type, std::move(state)).release();
}

}  // namespace puff::redis_client
