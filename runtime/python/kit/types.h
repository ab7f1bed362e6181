// One way to define a Python type in puff's native modules: method tables whose signatures
// are checked against their flags at compile time, every entry point `guarded` (boundary.h),
// heap types made once per process, and objects that own their C++ state through one pointer
// (`NativeObject<State>`: PyObject_HEAD + State*, State's Python members are PyRefs), counted
// while alive so that tests can see a leak per type.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "python/kit/boundary.h"
#include "python/pyref.h"

namespace puff::python {

namespace detail {
using NoArgs = PyObject* (*)(PyObject*, PyObject*);
using VarArgs = PyObject* (*)(PyObject*, PyObject*, PyObject*);
using FastCall = PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t);
using FastCallKeywords = PyObject* (*)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*);
using Getter = PyObject* (*)(PyObject*, void*);
using Setter = int (*)(PyObject*, PyObject*, void*);

template <int Flags>
constexpr bool signature_fits(auto function) {
  using F = decltype(function);
  constexpr int kind = Flags & ~(METH_CLASS | METH_STATIC | METH_COEXIST);
  if constexpr (kind == METH_NOARGS || kind == METH_O) return std::is_same_v<F, NoArgs>;
  if constexpr (kind == (METH_VARARGS | METH_KEYWORDS)) return std::is_same_v<F, VarArgs>;
  if constexpr (kind == METH_VARARGS) return std::is_same_v<F, NoArgs>;
  if constexpr (kind == METH_FASTCALL) return std::is_same_v<F, FastCall>;
  if constexpr (kind == (METH_FASTCALL | METH_KEYWORDS)) return std::is_same_v<F, FastCallKeywords>;
  return false;
}
}  // namespace detail

// A method table entry: `method<execute, METH_O>("execute", "doc")`.
template <auto F, int Flags>
constexpr PyMethodDef method(const char* name, const char* doc) {
  static_assert(detail::signature_fits<Flags>(F), "the function's signature does not fit its METH_ flags");
  return {name, as_method(guarded<F>), Flags, doc};
}
inline constexpr PyMethodDef kEndMethods = {nullptr, nullptr, 0, nullptr};

// A read-only attribute: `getter<get_closed>("closed", "doc")`.
template <auto Get>
constexpr PyGetSetDef getter(const char* name, const char* doc) {
  static_assert(std::is_same_v<decltype(Get), detail::Getter>, "a getter is PyObject*(PyObject*, void*)");
  return {name, guarded<Get>, nullptr, doc, nullptr};
}
inline constexpr PyGetSetDef kEndGetters = {nullptr, nullptr, nullptr, nullptr, nullptr};

// A type slot whose function is guarded: `slot<Py_tp_repr, task_repr>()`.
template <int Slot, auto F>
PyType_Slot slot() {
  return {Slot, reinterpret_cast<void*>(guarded<F>)};
}

// Creates the heap type from `spec` on first use (a module imported again reuses it) and adds
// it to `module` as `name`. Throws ErrorAlreadySet.
PyTypeObject* add_type(PyObject* module, const char* name, PyType_Spec& spec,
                       Pinned<PyTypeObject>& type);

// Adds `object` to `module` as `name` (a new reference). Throws ErrorAlreadySet.
void add_object(PyObject* module, const char* name, PyObject* object);

// The module object from a PyModuleDef, for PyInit functions. Throws ErrorAlreadySet.
PyRef create_module(PyModuleDef& definition);

// Instances alive per native type (by tp_name), for the leak tests: `_live_objects()` of each
// module returns them as a dict. GIL held.
void count_born(PyTypeObject* type);
void count_died(PyTypeObject* type);
PyObject* live_objects_dict(PyObject* module, PyObject* unused);

// A Python object that owns C++ state: the state's Python members are PyRefs, its C++ members
// anything (sockets, leases, locks). `state` is null only once the object was cleared.
template <class State>
struct NativeObject {
  PyObject_HEAD
  State* state;
};

template <class State>
State& state_of(PyObject* self) {
  return *reinterpret_cast<NativeObject<State>*>(self)->state;
}

// A new instance of `type` owning `state`. Throws ErrorAlreadySet (the state is then freed).
template <class State>
PyRef make_native(PyTypeObject* type, std::unique_ptr<State> state) {
  auto* object = reinterpret_cast<NativeObject<State>*>(require(type->tp_alloc(type, 0)));
  object->state = state.release();
  count_born(type);
  return PyRef::steal(reinterpret_cast<PyObject*>(object));
}
template <class State>
PyRef make_native(const Pinned<PyTypeObject>& type, std::unique_ptr<State> state) {
  return make_native(type.get(), std::move(state));
}

// Deletes the state (GIL held: its PyRefs are released), frees the object and drops the
// reference instances of a heap type hold on it. The tp_dealloc of NativeObject types (not
// for types with Py_TPFLAGS_HAVE_GC, whose dealloc untracks and clears first: see task.cpp).
template <class State>
void native_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  auto* object = reinterpret_cast<NativeObject<State>*>(self);
  delete std::exchange(object->state, nullptr);
  count_died(type);
  type->tp_free(self);
  Py_DECREF(type);
}

}  // namespace puff::python
