// The built-in `puff` module: spawn, sleep, run_blocking/blocking, join_all, current, is_hub,
// stats, and the attributes other packages expose in it (expose_in_puff).
#include "python/puff_module.h"

#include <map>
#include <stdexcept>

#include "python/blocking_pool.h"
#include "python/hub.h"
#include "python/kit/types.h"
#include "python/prelude_source.h"
#include "python/task.h"
#include "python/wait.h"

namespace puff::python {
namespace {

PyObject* spawn(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs < 1 || !PyCallable_Check(args[0])) {
    PyErr_SetString(PyExc_TypeError, "puff.spawn(fn, *args, **kwargs) needs a callable first");
    return nullptr;
  }
  Hub* hub = Hub::instance();
  if (!hub || !hub->running()) {
    PyErr_SetString(PyExc_RuntimeError,
                    "puff.spawn needs the puff hub: run this code under `puff python`, "
                    "`puff runserver` or another puff command");
    return nullptr;
  }
  PyRef call_args = PyRef::steal(PyTuple_New(nargs - 1));
  if (!call_args) return nullptr;
  for (Py_ssize_t i = 1; i < nargs; ++i) {
    PyTuple_SET_ITEM(call_args.get(), i - 1, Py_NewRef(args[i]));
  }
  PyRef call_kwargs;
  if (kwnames && PyTuple_GET_SIZE(kwnames) > 0) {
    call_kwargs = PyRef::steal(PyDict_New());
    if (!call_kwargs) return nullptr;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); ++i) {
      if (PyDict_SetItem(call_kwargs.get(), PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) {
        return nullptr;
      }
    }
  }
  PyRef task = new_task(args[0], call_args.get(), call_kwargs.get(), /*fresh_context=*/false);
  if (!task) return nullptr;
  if (hub->on_hub_thread()) {
    hub->start_task(task.get());
  } else {
    // From a blocking-pool thread: greenlets belong to the hub thread, start it there.
    hub->call_soon_threadsafe([hub, task] { hub->start_task(task.get()); });
  }
  return task.release();
}

PyObject* sleep(PyObject*, PyObject* seconds_object) {
  double seconds = PyFloat_AsDouble(seconds_object);
  if (seconds == -1 && PyErr_Occurred()) return nullptr;
  if (seconds < 0 || seconds != seconds) {
    PyErr_SetString(PyExc_ValueError, "puff.sleep: seconds must be a non-negative number");
    return nullptr;
  }
  if (!sleep_for(seconds)) return nullptr;
  Py_RETURN_NONE;
}

PyObject* run_blocking_entry(PyObject*, PyObject* args, PyObject* kwargs) {
  if (PyTuple_GET_SIZE(args) < 1 || !PyCallable_Check(PyTuple_GET_ITEM(args, 0))) {
    PyErr_SetString(PyExc_TypeError,
                    "puff.run_blocking(fn, *args, **kwargs) needs a callable first");
    return nullptr;
  }
  PyRef rest = PyRef::steal(PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args)));
  if (!rest) return nullptr;
  return run_blocking(PyTuple_GET_ITEM(args, 0), rest.get(), kwargs);
}

PyObject* current(PyObject*, PyObject*) {
  Hub* hub = Hub::instance();
  PyObject* task = hub && hub->in_task() ? hub->current_task() : nullptr;
  return Py_NewRef(task ? task : Py_None);
}

PyObject* is_hub(PyObject*, PyObject*) {
  Hub* hub = Hub::instance();
  return PyBool_FromLong(hub && hub->in_task());
}

PyObject* stats(PyObject*, PyObject*) {
  Hub* hub = Hub::instance();
  BlockingPool* pool = BlockingPool::instance();
  return Py_BuildValue("{s:i,s:i,s:i,s:i}", "live_tasks", hub ? hub->live_tasks() : 0,
                       "io_threads", hub ? hub->io().size() : 0, "blocking_threads",
                       pool ? pool->threads_started() : 0, "blocking_threads_max",
                       pool ? pool->size() : 0);
}

// Written before the interpreter starts, read once at the module's import.
std::map<std::string, std::string>& exposed() {
  static auto* table = new std::map<std::string, std::string>;
  return *table;
}

// Debug hooks for the tests of the C-API boundary and of the leak checks.
PyObject* debug_throw(PyObject*, PyObject* message) {
  const char* text = PyUnicode_AsUTF8(message);
  if (!text) return nullptr;
  throw std::runtime_error(text);
}

PyObject* debug_leak(PyObject*, PyObject* object) {
  Py_INCREF(object);  // never released: what the leak checks must notice
  Py_RETURN_NONE;
}

PyMethodDef module_methods[] = {
    method<spawn, METH_FASTCALL | METH_KEYWORDS>(
        "spawn", "spawn(fn, *args, **kwargs) -> Task: run fn in a new greenlet on the hub."),
    method<sleep, METH_O>(
        "sleep",
        "sleep(seconds): a native timer; other greenlets run meanwhile (plain sleep off the hub)."),
    method<run_blocking_entry, METH_VARARGS | METH_KEYWORDS>(
        "run_blocking",
        "run_blocking(fn, *args, **kwargs): run fn on the bounded blocking pool and wait."),
    method<current, METH_NOARGS>("current",
                                 "current() -> the running Task, or None off the hub."),
    method<is_hub, METH_NOARGS>(
        "is_hub", "is_hub() -> True when running in a hub greenlet (waits are cooperative)."),
    method<stats, METH_NOARGS>("stats", "stats() -> dict of runtime counters."),
    method<live_objects_dict, METH_NOARGS>(
        "_live_objects", "_live_objects() -> {type name: instances alive} (leak tests)"),
    method<debug_throw, METH_O>(
        "_debug_throw_cpp", "_debug_throw_cpp(message): a C++ exception escapes (tests)"),
    method<debug_leak, METH_O>("_debug_leak",
                               "_debug_leak(obj): leaks one reference to obj (tests)"),
    kEndMethods};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "puff",
                          "The puff runtime: greenlets on a native hub.", -1, module_methods};

PyObject* init_module() {
  PyRef module = create_module(module_def);
  add_task_type(module.get());
  require(PyModule_AddStringConstant(module.get(), "__version__", PUFF_VERSION_STRING) == 0);
  PyRef table = PyRef::steal(require(PyDict_New()));
  for (const auto& [attribute, target] : exposed()) {
    PyRef value = PyRef::steal(require(PyUnicode_FromString(target.c_str())));
    require(PyDict_SetItemString(table.get(), attribute.c_str(), value.get()) == 0);
  }
  add_object(module.get(), "_exposed", table.get());
  PyRef code = PyRef::steal(
      require(Py_CompileString(kPreludeSource, "<puff prelude>", Py_file_input)));
  PyObject* namespace_dict = PyModule_GetDict(module.get());  // borrowed
  PyRef ran = PyRef::steal(require(PyEval_EvalCode(code.get(), namespace_dict, namespace_dict)));
  return module.release();
}

}  // namespace

PyObject* init_puff_module() { return guarded<init_module>(); }

void expose_in_puff(std::string attribute, std::string target) {
  exposed()[std::move(attribute)] = std::move(target);
}

}  // namespace puff::python
