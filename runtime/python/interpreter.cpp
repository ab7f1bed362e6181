#include "python/interpreter.h"

#include <cstdlib>
#include <fstream>

#include "core/paths.h"
#include "python/arena_cache.h"
#include "python/compat.h"
#include "python/greenlet_api.h"
#include "python/puff_module.h"

#ifndef PUFF_BUILD_PYTHON
#define PUFF_BUILD_PYTHON ""
#endif

namespace puff::python {
namespace {

// The "version" line of <venv>/pyvenv.cfg, e.g. "3.11.7"; empty if absent.
std::string venv_version(const std::string& venv) {
  std::ifstream cfg(venv + "/pyvenv.cfg");
  std::string line;
  while (std::getline(cfg, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    if (key == "version" || key == "version_info") {
      std::string value = line.substr(eq + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      return value;
    }
  }
  return {};
}

bool is_venv(const std::string& dir) { return core::file_exists(dir + "/pyvenv.cfg"); }

PythonEnvironment from_venv(const std::string& venv, const std::string& how) {
  PythonEnvironment env{venv, venv + "/bin/python", how, ""};
  if (!core::file_exists(env.executable)) {
    env.problem = venv + " has no bin/python; recreate the virtualenv (scripts/bootstrap)";
    return env;
  }
  std::string version = venv_version(venv);
  std::string ours = std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
  if (!version.empty() && version.rfind(ours + ".", 0) != 0 && version != ours) {
    env.problem = "the virtualenv " + venv + " is Python " + version + " but puff was built for " +
                  "Python " + ours + "; rebuild puff against it (scripts/bootstrap)";
  }
  return env;
}

}  // namespace

PythonEnvironment find_python_environment(const std::string& python_home) {
  if (!python_home.empty()) {
    std::string dir = core::absolute_path(python_home, core::current_directory());
    if (!is_venv(dir)) {
      return {dir, "", "--python-home",
              "--python-home " + python_home + " is not a virtualenv (no pyvenv.cfg)"};
    }
    return from_venv(dir, "--python-home");
  }
  std::string exe = core::executable_path();
  if (!exe.empty()) {
    std::string venv = core::parent_directory(core::parent_directory(exe));
    if (is_venv(venv)) return from_venv(venv, "the virtualenv puff is installed in");
  }
  if (const char* active = std::getenv("VIRTUAL_ENV"); active && *active) {
    if (is_venv(active)) return from_venv(active, "$VIRTUAL_ENV");
  }
  std::string built_with = PUFF_BUILD_PYTHON;
  if (!built_with.empty()) {
    std::string venv = core::parent_directory(core::parent_directory(built_with));
    if (is_venv(venv)) return from_venv(venv, "the virtualenv puff was built with");
    if (core::file_exists(built_with)) return {"", built_with, "the Python puff was built with", ""};
  }
  return {"", "", "", "no Python environment found; install puff into a virtualenv "
                      "(scripts/bootstrap), activate one, or pass --python-home"};
}

namespace {

PyObject* init_puff() { return init_puff_module(); }

void check(PyStatus status, PyConfig* config, const char* what) {
  if (!PyStatus_Exception(status)) return;
  std::string message = std::string("cannot start Python (") + what + "): " +
                        (status.err_msg ? status.err_msg : "unknown error");
  PyConfig_Clear(config);
  throw PythonStartError(message);
}

}  // namespace

Interpreter::Interpreter(const PythonEnvironment& environment,
                         const std::vector<std::string>& argv, const std::string& project_dir) {
  if (!environment.problem.empty()) throw PythonStartError(environment.problem);
  if (PyImport_AppendInittab("puff", &init_puff) < 0) {
    throw PythonStartError("cannot register the built-in puff module");
  }
  PyConfig config;
  install_arena_cache();  // before any arena exists
  PyConfig_InitPythonConfig(&config);
  config.parse_argv = 0;  // our argv is already parsed; don't let Python interpret it
  config.install_signal_handlers = 1;
  // sys.executable = the venv's python: Python's path calculation then finds pyvenv.cfg next
  // to it (site-packages of the venv), and subprocesses (pytest-xdist, Django's autoreloader)
  // start the right interpreter.
  if (!environment.executable.empty()) {
    check(PyConfig_SetBytesString(&config, &config.program_name, environment.executable.c_str()),
          &config, "program name");
    check(PyConfig_SetBytesString(&config, &config.executable, environment.executable.c_str()),
          &config, "executable");
  }
  std::vector<char*> raw_argv;
  for (const auto& arg : argv) raw_argv.push_back(const_cast<char*>(arg.c_str()));
  check(PyConfig_SetBytesArgv(&config, static_cast<Py_ssize_t>(raw_argv.size()), raw_argv.data()),
        &config, "argv");
  check(Py_InitializeFromConfig(&config), &config, "initialization");
  PyConfig_Clear(&config);

  // The project first on sys.path, as `python manage.py` puts the script's directory there.
  PyObject* path = PySys_GetObject("path");  // borrowed
  PyRef dir = PyRef::steal(PyUnicode_DecodeFSDefault(project_dir.c_str()));
  if (!path || !dir || PyList_Insert(path, 0, dir.get()) < 0) {
    PyErr_Print();
    throw PythonStartError("cannot put the project directory on sys.path");
  }
  if (!greenlet::import_api()) {
    PyErr_Clear();
    Py_FinalizeEx();
    finalized_ = true;
    throw PythonStartError("the greenlet package is not importable from " +
                           (environment.venv.empty() ? std::string("this Python")
                                                     : environment.venv) +
                           "; install it (pip install 'greenlet>=3') or run scripts/bootstrap");
  }
}

Interpreter::~Interpreter() { finalize(); }

int Interpreter::finalize() {
  if (finalized_) return 0;
  finalized_ = true;
  return Py_FinalizeEx() < 0 ? 120 : 0;
}

}  // namespace puff::python
