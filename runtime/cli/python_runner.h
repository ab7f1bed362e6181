// Running Python entry points on the hub: the main task of every command that runs Python.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config/config.h"
#include "python/interpreter.h"

namespace puff::cli {

struct RunContext {
  config::Config config;
  python::PythonEnvironment python;
};

// What to run as the main task, and how.
struct EntryPoint {
  std::string label;              // starts the error lines ("puff python", "puff <command>")
  std::string target;             // MODULE:FUNCTION
  std::vector<std::string> argv;  // sys.argv, argv[0] included
  bool watchdog = true;           // false: no stall warnings (one-shot CLI commands)
  // Runs before the main task, with the interpreter and the hub up (GIL held); false = exit 1
  // (it printed why). `puff runserver` loads the application here.
  std::function<bool()> prepare;
};

// Runs the entry point as the main task; returns the process exit code.
int run_entry(const RunContext& context, const EntryPoint& entry);

// `puff python` and [[commands]]: sys.argv is [MODULE:FUNCTION, ARGS...].
int run_python_entry(const RunContext& context, const std::string& label,
                     const std::string& target, const std::vector<std::string>& args);

}  // namespace puff::cli
