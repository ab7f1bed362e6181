// Runs a Python entry point as the main task on the hub, for every command that runs Python
// (`puff python`, [[commands]], django, pytest, init, runserver). The exit code follows
// sys.exit() semantics applied to the function's return value or exception.
#include <csignal>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/python_runner.h"
#include "cli/packages.h"
#include "core/io_threads.h"
#include "core/log.h"
#include "python/blocking_pool.h"
#include "python/entry_point.h"
#include "python/hub.h"
#include "python/interpreter.h"
#include "python/pyref.h"
#include "python/task.h"
#include "python/watchdog.h"

namespace puff::cli {
namespace {

using python::PyRef;

// Prints the pending exception as Python's top level would (honouring sys.excepthook).
void print_exception(PyObject* exception) {
  PyRef type = PyRef::borrow(reinterpret_cast<PyObject*>(Py_TYPE(exception)));
  PyRef traceback = PyRef::steal(PyException_GetTraceback(exception));
  PyObject* hook = PySys_GetObject("excepthook");  // borrowed
  PyRef printed;
  if (hook) {
    printed = PyRef::steal(PyObject_CallFunctionObjArgs(
        hook, type.get(), exception, traceback ? traceback.get() : Py_None, nullptr));
  }
  if (!printed) {
    PyErr_Clear();
    PyErr_Display(type.get(), exception, traceback.get());
  }
}

// sys.exit(value) semantics: None -> 0, int -> itself, anything else printed, 1.
int exit_code_of(PyObject* value) {
  if (value == nullptr || value == Py_None) return 0;
  if (PyLong_Check(value)) {
    int overflow = 0;
    long code = PyLong_AsLongAndOverflow(value, &overflow);
    if (overflow || (code == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return 1;
    }
    return static_cast<int>(code & 0xff);
  }
  PyRef text = PyRef::steal(PyObject_Str(value));
  if (text) PySys_FormatStderr("%U\n", text.get());
  PyErr_Clear();
  return 1;
}

int exit_code_of_task(python::TaskState& task) {
  PyObject* error = task.exception.get();
  if (!error) return exit_code_of(task.result.get());
  task.exception_retrieved = true;
  if (PyErr_GivenExceptionMatches(error, PyExc_SystemExit)) {
    PyRef code = PyRef::steal(PyObject_GetAttrString(error, "code"));
    PyErr_Clear();
    return exit_code_of(code.get());
  }
  print_exception(error);
  if (PyErr_GivenExceptionMatches(error, PyExc_KeyboardInterrupt)) {
    return python::compat::kSigintExitCode;
  }
  return 1;
}

// SIGTERM unwinds the main task like Ctrl-C (finally blocks run), exit code 143.
bool install_sigterm_handler() {
  PyRef puff_module = PyRef::steal(PyImport_ImportModule("puff"));
  PyRef signal_module = PyRef::steal(PyImport_ImportModule("signal"));
  if (!puff_module || !signal_module) return false;
  PyRef handler = PyRef::steal(PyObject_GetAttrString(puff_module.get(), "_on_sigterm"));
  if (!handler) return false;
  PyRef done = PyRef::steal(
      PyObject_CallMethod(signal_module.get(), "signal", "iO", SIGTERM, handler.get()));
  return static_cast<bool>(done);
}

}  // namespace

int run_entry(const RunContext& context, const EntryPoint& entry) {
  const std::string& label = entry.label;
  const std::string& target = entry.target;
  auto colon = target.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target.size()) {
    std::cerr << label << ": expected MODULE:FUNCTION (e.g. myproject.jobs:main), got '"
              << target << "'\n";
    return 2;
  }
  std::string module_name = target.substr(0, colon);
  std::string attribute = target.substr(colon + 1);

  core::IoThreads io(context.config.runtime.io_threads);
  std::optional<python::Interpreter> interpreter;
  PackageContext package_context{context.config, [&context](const config::RedisConfig& entry) {
                                    return resolve_redis_url(context.config, entry);
                                  }};
  for (const Package& package : linked_packages()) {
    if (package.register_builtins) package.register_builtins(package_context);
  }
  try {
    interpreter.emplace(context.python, entry.argv, context.config.project_dir);
  } catch (const python::PythonStartError& e) {
    std::cerr << "puff: " << e.what() << "\n";
    return 1;
  }
  int exit_code = 1;
  {
    python::Hub hub(io);
    python::BlockingPool pool(context.config.runtime.blocking_threads);
    std::optional<python::Watchdog> watchdog;
    if (entry.watchdog && context.config.runtime.watchdog_ms > 0) {
      watchdog.emplace(hub, context.config.runtime.watchdog_ms);
    }
    if (!install_sigterm_handler()) PyErr_Print();
    // `prepare` runs before the hub: a slow import there (Django's) is no stall.
    bool prepared = !entry.prepare || entry.prepare();
    PyRef function =
        prepared ? python::resolve_callable(label, module_name, attribute) : PyRef();
    if (function) {
      PyRef no_args = PyRef::steal(PyTuple_New(0));
      PyRef main_task = python::new_task(function.get(), no_args.get(), nullptr,
                                         /*fresh_context=*/true);
      if (main_task) {
        function.reset();
        hub.run(main_task.get());
        exit_code = exit_code_of_task(python::task_state(main_task.get()));
      } else {
        PyErr_Print();
      }
    }
    if (watchdog) watchdog->stop();
    pool.stop();
    io.stop();  // before the hub goes: pending timers may still point at it
  }
  int finalize_code = interpreter->finalize();
  return exit_code != 0 ? exit_code : finalize_code;
}

int run_python_entry(const RunContext& context, const std::string& label,
                     const std::string& target, const std::vector<std::string>& args) {
  std::vector<std::string> argv{target};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_entry(context, {.label = label, .target = target, .argv = argv});
}

}  // namespace puff::cli
