// The built-in `puff` module: spawn, sleep, run_blocking/blocking, join_all, current, is_hub,
// stats, and the database functions of db_functions.h (db_pool_stats, postgres_config).
#include "python/puff_module.h"

#include "python/blocking_pool.h"
#include "python/db_functions.h"
#include "python/hub.h"
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

PyMethodDef module_methods[] = {
    {"spawn", as_method(spawn),
     METH_FASTCALL | METH_KEYWORDS,
     "spawn(fn, *args, **kwargs) -> Task: run fn in a new greenlet on the hub."},
    {"sleep", sleep, METH_O,
     "sleep(seconds): a native timer; other greenlets run meanwhile (plain sleep off the hub)."},
    {"run_blocking", as_method(run_blocking_entry),
     METH_VARARGS | METH_KEYWORDS,
     "run_blocking(fn, *args, **kwargs): run fn on the bounded blocking pool and wait."},
    {"current", current, METH_NOARGS, "current() -> the running Task, or None off the hub."},
    {"is_hub", is_hub, METH_NOARGS,
     "is_hub() -> True when running in a hub greenlet (waits are cooperative)."},
    {"stats", stats, METH_NOARGS, "stats() -> dict of runtime counters."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "puff",
                          "The puff runtime: greenlets on a native hub.", -1, module_methods};

}  // namespace

PyObject* init_puff_module() {
  PyRef module = PyRef::steal(PyModule_Create(&module_def));
  if (!module) return nullptr;
  if (!add_task_type(module.get()) || !add_db_functions(module.get())) return nullptr;
  if (PyModule_AddStringConstant(module.get(), "__version__", PUFF_VERSION_STRING) < 0) {
    return nullptr;
  }
  PyRef code = PyRef::steal(Py_CompileString(kPreludeSource, "<puff prelude>", Py_file_input));
  if (!code) return nullptr;
  PyObject* namespace_dict = PyModule_GetDict(module.get());  // borrowed
  PyRef ran = PyRef::steal(PyEval_EvalCode(code.get(), namespace_dict, namespace_dict));
  if (!ran) return nullptr;
  return module.release();
}

}  // namespace puff::python
