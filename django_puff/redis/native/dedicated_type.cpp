// Dedicated: exclusive use of one Redis connection. A context manager: leaving the block gives
// the connection back (closed instead when the block raised: its state is unknown).
#include <new>

#include "python/native_io.h"
#include "call.h"
#include "convert.h"
#include "objects.h"

namespace puff::python::redis_client {
namespace {

struct DedicatedObject {
  PyObject_HEAD
  redis::Dedicated lease;
  unsigned fork_generation;
};

PyTypeObject* dedicated_type = nullptr;

// The lease, or nullptr with an exception for a released one or one made before fork().
redis::Dedicated* usable(DedicatedObject* self) {
  if (self->fork_generation != fork_generation()) {
    PyErr_SetString(exceptions().connection_error,
                    "this dedicated Redis connection was taken before fork(); take a new one "
                    "in the child");
    return nullptr;
  }
  if (!self->lease) {
    PyErr_SetString(exceptions().connection_error,
                    "this dedicated Redis connection was already given back");
    return nullptr;
  }
  return &self->lease;
}

// The lease's connection, or nullptr with an exception (see usable()).
redis::Connection* connection_of(PyObject* self_object) {
  redis::Dedicated* lease = usable(reinterpret_cast<DedicatedObject*>(self_object));
  return lease ? &lease->connection() : nullptr;
}

PyObject* execute(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return execute_vectorcall([self] { return connection_of(self); }, args, nargs, kwnames);
}

PyObject* execute_many(PyObject* self, PyObject* args, PyObject* kwargs) {
  return execute_many_call([self] { return connection_of(self); }, args, kwargs);
}

PyObject* release(PyObject* self_object, PyObject*) {
  reinterpret_cast<DedicatedObject*>(self_object)->lease.release();
  Py_RETURN_NONE;
}

PyObject* discard(PyObject* self_object, PyObject*) {
  reinterpret_cast<DedicatedObject*>(self_object)->lease.discard();
  Py_RETURN_NONE;
}

PyObject* enter(PyObject* self, PyObject*) { return Py_NewRef(self); }

PyObject* exit_block(PyObject* self_object, PyObject* const* args, Py_ssize_t nargs) {
  auto* self = reinterpret_cast<DedicatedObject*>(self_object);
  bool raised = nargs > 0 && args[0] != Py_None;
  if (raised) {
    self->lease.discard();
  } else {
    self->lease.release();
  }
  Py_RETURN_FALSE;
}

PyObject* get_active(PyObject* self_object, void*) {
  return PyBool_FromLong(static_cast<bool>(reinterpret_cast<DedicatedObject*>(self_object)->lease));
}

void dealloc(PyObject* self_object) {
  auto* self = reinterpret_cast<DedicatedObject*>(self_object);
  if (self->fork_generation != fork_generation()) {
    // A forked child: the pool's IO threads are gone here; leave the parent's connection be.
    new redis::Dedicated(std::move(self->lease));
  }
  self->lease.~Dedicated();
  PyTypeObject* type = Py_TYPE(self_object);
  type->tp_free(self_object);
  Py_DECREF(type);
}

PyMethodDef methods[] = {
    {"execute", as_method(execute), METH_FASTCALL | METH_KEYWORDS,
     "execute(*args, timeout=None): one command on this connection (timeout 0 waits forever, "
     "for BLPOP & co.); its reply, a ResponseError raised for an error reply."},
    {"execute_many", as_method(execute_many), METH_VARARGS | METH_KEYWORDS,
     "execute_many(commands, timeout=None) -> replies in one round trip; error replies as "
     "ResponseError instances in their place."},
    {"release", release, METH_NOARGS, "release(): gives the connection back to the pool."},
    {"discard", discard, METH_NOARGS, "discard(): closes the connection instead."},
    {"__enter__", enter, METH_NOARGS, nullptr},
    {"__exit__", as_method(exit_block), METH_FASTCALL, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef getset[] = {
    {"active", get_active, nullptr, "True until the connection is given back.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(dealloc)},
                       {Py_tp_methods, methods},
                       {Py_tp_getset, getset},
                       {Py_tp_doc, const_cast<char*>("A Redis connection of your own "
                                                     "(Pool.dedicated()).")},
                       {0, nullptr}};

PyType_Spec spec = {"django_puff._redis.Dedicated", sizeof(DedicatedObject), 0,
                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};

}  // namespace

bool add_dedicated_type(PyObject* module) {
  return add_type(module, "Dedicated", &spec, &dedicated_type);
}

PyObject* new_dedicated(redis::Dedicated lease) {
  auto* self = PyObject_New(DedicatedObject, dedicated_type);
  if (!self) return nullptr;  // `lease` goes back when it goes out of scope
  new (&self->lease) redis::Dedicated(std::move(lease));
  self->fork_generation = fork_generation();
  return reinterpret_cast<PyObject*>(self);
}

}  // namespace puff::python::redis_client
