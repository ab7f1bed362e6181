// Running Python entry points on the hub (`puff python`, `[[commands]]`).
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

// `puff django COMMAND [ARGS]`: Django's execute_from_command_line on the hub, as manage.py
// runs it. `watchdog` comes from an explicit --watchdog-ms (see django_command.cpp).
int run_django(const RunContext& context, const std::vector<std::string>& args, bool watchdog);

// `puff pytest [ARGS]`: pytest (with pytest-django and the project's plugins) on the hub.
int run_pytest(const RunContext& context, const std::vector<std::string>& args, bool watchdog);

struct InitOptions {
  std::string output;    // the puff.toml to write (--config, else ./puff.toml)
  std::string settings;  // --settings; empty: DJANGO_SETTINGS_MODULE, then manage.py's default
  bool force = false;    // replace an existing file
};

// `puff init`: writes a puff.toml for an existing Django project from its settings. Exit 1
// when the file exists (without --force) or the settings cannot be read.
int run_init(const InitOptions& options, const python::PythonEnvironment& python);

}  // namespace puff::cli
