// Embedded CPython: finds the virtualenv, configures the interpreter with PyConfig and
// finalizes it cleanly. The `puff` module is registered as a built-in before start-up.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace puff::python {

// Where the Python environment is and how it was found.
struct PythonEnvironment {
  std::string venv;        // virtualenv root, empty when none
  std::string executable;  // becomes sys.executable (the venv's python)
  std::string how_found;   // human-readable, for `puff doctor`
  std::string problem;     // non-empty: no usable environment, and why / what to do
};

// In order: `python_home` (--python-home) if given; the venv the binary is installed in
// (<venv>/bin/puff); $VIRTUAL_ENV; the interpreter puff was built against.
PythonEnvironment find_python_environment(const std::string& python_home);

class PythonStartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The interpreter's lifetime. Only one per process.
class Interpreter {
 public:
  // argv becomes sys.argv; project_dir goes first on sys.path. Throws PythonStartError.
  Interpreter(const PythonEnvironment& environment, const std::vector<std::string>& argv,
              const std::string& project_dir);
  ~Interpreter();  // Py_FinalizeEx; the hub must have unwound its greenlets already
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Exit code from Py_FinalizeEx problems (flushing stdout failed -> 120, as python does).
  int finalize();

 private:
  bool finalized_ = false;
};

}  // namespace puff::python
