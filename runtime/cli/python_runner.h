// Running Python entry points on the hub (`puff python`, `[[commands]]`).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "python/interpreter.h"

namespace puff::cli {

struct RunContext {
  config::Config config;
  python::PythonEnvironment python;
};

// Runs MODULE:FUNCTION as the main task; returns the process exit code. `label` starts the
// error lines ("puff python", "puff <command>").
int run_python_entry(const RunContext& context, const std::string& label,
                     const std::string& target, const std::vector<std::string>& args);

}  // namespace puff::cli
