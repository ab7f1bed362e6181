// The CLI's commands, one *_command.cpp each. A command is a Command: `add` registers its CLI11
// subcommand (name, help, options), `run` runs it once parsed. main.cpp builds the command line
// from the built-in table and puff.toml's [[commands]], parses it and runs the one given.
// Every run returns the process exit code.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/global_options.h"
#include "cli/python_runner.h"
#include "config/config.h"

namespace CLI {
class App;
}

namespace puff::cli {

// Where puff's own arguments end and the program's (its sys.argv[1:]) begin, so that
// `puff python job:main --config x --help` passes both flags to the job.
enum class PassThrough {
  kNothing,             // every argument is puff's
  kAfterCommand,        // `puff django ARGS`: everything after the command's name
  kAfterFirstArgument,  // `puff python MODULE:FUNCTION ARGS`: everything after its argument
};

// What a command runs with, once the command line is parsed.
struct Invocation {
  const GlobalFlags& flags;
  const std::string& config_path;                // --config, else $PUFF_CONFIG; "": ./puff.toml
  const std::vector<std::string>& program_args;  // the arguments passed through
  // The configuration (flags applied) and the Python environment; null for a command that
  // runs without the configuration.
  const RunContext* context;
};

struct Command {
  // Adds the subcommand to `app` with its help and options (which write into state `run`
  // reads) and returns it.
  std::function<CLI::App*(CLI::App& app)> add;
  std::function<int(const Invocation& invocation)> run;
  PassThrough pass_through = PassThrough::kNothing;
  // false: runs before puff.toml is checked, so a broken file does not stop it (`init` may be
  // replacing that file; `example-config` shows how to write one).
  bool needs_config = true;
};

// The runtime's own commands, in their files (packages add theirs: packages.h).
Command python_command();
Command doctor_command();
Command example_config_command();
Command services_command();
Command runserver_command();
// A [[commands]] entry of puff.toml: runs its function as `puff python` does.
Command user_command(const config::CommandConfig& entry);

// Where the Python environment was found (from python/interpreter.h), for `puff doctor`.
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
