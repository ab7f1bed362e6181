// The CLI's commands, each in its own file; main.cpp parses arguments (CLI11) and calls these.
// Every function returns the process exit code.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config/config.h"

namespace puff::cli {

// Where the Python environment was found (filled by main from python/interpreter.h).
struct PythonFacts {
  std::string venv;          // empty when running without a virtualenv
  std::string executable;    // the python that sys.executable will be
  std::string how_found;     // "installed in the venv" | "VIRTUAL_ENV" | "--python-home" | ...
  std::string problem;       // non-empty when no usable Python environment was found
};

// `puff services up|down|status`. status exits 0 when both run, 3 when one is stopped.
int run_services(const config::Config& config, const std::string& action, std::ostream& out,
                 std::ostream& err);

// `puff doctor`: one line per check ("ok  ..." / "FAIL ... : what to do"); exit 0 when all pass,
// 1 otherwise. Checks Python, the venv, greenlet/Django importable (by running the venv's
// python), and every configured postgres/redis entry (resolving "embedded").
int run_doctor(const config::Config& config, const PythonFacts& python, std::ostream& out);

// Resolves "embedded" to the running embedded service's URL; throws ConfigError-like
// std::runtime_error with "run `puff services up`" when it is not running.
std::string resolve_postgres_url(const config::Config& config, const config::PostgresConfig& pg);
std::string resolve_redis_url(const config::Config& config, const config::RedisConfig& redis);

}  // namespace puff::cli
