// The `puff` executable: parses the command line (CLI11) and dispatches to a command.
// Configuration precedence: puff.toml < environment < flags.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/python_runner.h"
#include "cli/runserver_command.h"
#include "config/config.h"
#include "core/log.h"
#include "core/paths.h"

#ifndef PUFF_VERSION
#define PUFF_VERSION "0.0.0"
#endif

namespace puff::cli {
namespace {

// Global options written as two words (--flag VALUE).
bool takes_value(const std::string& arg) {
  static const std::vector<std::string> with_value = {
      "--config", "--python-home", "--io-threads", "--blocking-threads", "--watchdog-ms",
      "--log-level"};
  return std::find(with_value.begin(), with_value.end(), arg) != with_value.end();
}

bool is_builtin_command(const std::string& word) {
  return word == "python" || word == "django" || word == "pytest" || word == "init" ||
         word == "doctor" || word == "example-config" || word == "services" ||
         word == "runserver";
}

// Where puff's own arguments end: the arguments after `python MODULE:FUNCTION`, after `django`
// or `pytest`, or after a `[[commands]]` name, belong to the program (sys.argv[1:]) and must not be read as
// puff's flags, or `puff python job:main --config x --help` would change puff's config and print
// puff's help. Any word that is not a built-in command is taken as a [[commands]] name here;
// unknown ones are reported after the config is read. Returns argc when nothing passes through.
int program_args_start(int argc, char** argv) {
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return argc;
    if (arg[0] == '-') {
      if (takes_value(arg)) ++i;  // --flag VALUE (the --flag=VALUE form is one word)
      continue;
    }
    if (command.empty()) {
      command = arg;
      if (!is_builtin_command(command) || command == "django" || command == "pytest") {
        return i + 1;
      }
      continue;
    }
    if (command == "python") return i + 1;  // just after MODULE:FUNCTION
  }
  return argc;
}

// --config from puff's own arguments (read before parsing: [[commands]] entries become
// subcommands), else $PUFF_CONFIG, else empty (./puff.toml if present).
std::string config_path_from(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) return argv[i + 1];
    if (arg.rfind("--config=", 0) == 0) return arg.substr(9);
  }
  const char* env = std::getenv("PUFF_CONFIG");
  return env ? env : "";
}

struct Flags {
  std::string config_path;
  std::string python_home;
  std::optional<int> io_threads;
  std::optional<int> blocking_threads;
  std::optional<int> watchdog_ms;
  std::string log_level;
};

// Flags win over the file and the environment; their errors name the flag.
void apply_flags(const Flags& flags, config::Config& config) {
  auto in_range = [](const char* flag, int value, int low, int high) {
    if (value < low || value > high) {
      throw config::ConfigError(std::string(flag) + ": must be " + std::to_string(low) + ".." +
                                std::to_string(high) + ", got " + std::to_string(value));
    }
    return value;
  };
  if (flags.io_threads) config.runtime.io_threads = in_range("--io-threads", *flags.io_threads, 0, 256);
  if (flags.blocking_threads) {
    config.runtime.blocking_threads =
        in_range("--blocking-threads", *flags.blocking_threads, 1, 1024);
  }
  if (flags.watchdog_ms) {
    config.runtime.watchdog_ms = in_range("--watchdog-ms", *flags.watchdog_ms, 0, 600000);
  }
  if (!flags.log_level.empty()) {
    core::LogLevel level;
    if (!core::parse_log_level(flags.log_level, &level)) {
      throw config::ConfigError("--log-level: must be one of debug, info, warning, error; got \"" +
                                flags.log_level + "\"");
    }
    config.runtime.log_level = flags.log_level;
  }
}

PythonFacts facts_of(const python::PythonEnvironment& env) {
  return {env.venv, env.executable, env.how_found, env.problem};
}

int main_checked(int argc, char** argv) {
  CLI::App app{"puff: a native runtime for Django. Python code stays ordinary sync Django; the "
               "runtime does the IO and runs every request, command and task as a greenlet."};
  app.set_version_flag("--version", std::string("puff ") + PUFF_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too

  Flags flags;
  app.add_option("--config", flags.config_path,
                 "puff.toml to read (default: ./puff.toml if present, or $PUFF_CONFIG)");
  app.add_option("--python-home", flags.python_home,
                 "virtualenv to run in (default: the one puff is installed in, or $VIRTUAL_ENV)");
  app.add_option("--io-threads", flags.io_threads, "IO threads (0 = one per core but the hub's, at least 1)");
  app.add_option("--blocking-threads", flags.blocking_threads,
                 "size of the @puff.blocking thread pool");
  app.add_option("--watchdog-ms", flags.watchdog_ms,
                 "warn when the hub is blocked this long (0 = off)");
  app.add_option("--log-level", flags.log_level, "debug, info, warning or error");

  const int program_args = program_args_start(argc, argv);
  // Load the configuration first: its [[commands]] become subcommands. A broken file only
  // fails commands that need it (example-config and --version/--help don't).
  std::optional<config::Config> loaded;
  std::string config_error;
  try {
    loaded = config::load(config_path_from(program_args, argv), core::current_directory(),
                          config::process_environment());
  } catch (const config::ConfigError& e) {
    config_error = e.what();
  }

  std::string target;
  auto* python_cmd = app.add_subcommand("python", "Run MODULE:FUNCTION as a greenlet on the hub "
                                                  "(its exit code comes from its return value)");
  python_cmd->add_option("target", target, "MODULE:FUNCTION, e.g. myproject.jobs:main")->required();
  python_cmd->footer("Arguments after MODULE:FUNCTION are passed in sys.argv[1:], flags too.");

  auto* django_cmd = app.add_subcommand("django", "Run a Django management command on the hub, "
                                                  "as `python manage.py COMMAND [ARGS]` does");
  // No options of its own: everything after `django` is Django's (`puff django --help` too).
  auto* pytest_cmd = app.add_subcommand("pytest", "Run pytest (with pytest-django) on the hub, "
                                                  "as `pytest [ARGS]` does");

  auto* doctor_cmd = app.add_subcommand("doctor", "Check Python, the virtualenv and every "
                                                  "configured backend, one line per check");
  auto* example_cmd = app.add_subcommand("example-config", "Print a complete, commented puff.toml");
  InitOptions init_options;
  auto* init_cmd = app.add_subcommand("init", "Write puff.toml for an existing Django project "
                                              "from its settings (DATABASES, CACHES, WSGI)");
  init_cmd->add_option("--settings", init_options.settings,
                       "settings module (default: DJANGO_SETTINGS_MODULE, else manage.py's)");
  init_cmd->add_flag("--force", init_options.force, "replace an existing puff.toml");
  std::string services_action;
  auto* services_cmd = app.add_subcommand("services", "Embedded dev PostgreSQL and Redis under "
                                                      ".puff/: up, down or status");
  services_cmd->add_option("action", services_action, "up | down | status")
      ->required()
      ->check(CLI::IsMember({"up", "down", "status"}));

  RunserverFlags runserver_flags;
  auto* runserver_cmd = add_runserver_command(app, runserver_flags);

  struct UserCommand {
    CLI::App* app;
    config::CommandConfig entry;
  };
  std::vector<std::unique_ptr<UserCommand>> user_commands;
  if (loaded) {
    for (const auto& entry : loaded->commands) {
      auto command = std::make_unique<UserCommand>();
      command->entry = entry;
      command->app = app.add_subcommand(entry.name, entry.help.empty() ? "runs " + entry.function
                                                                       : entry.help);
      user_commands.push_back(std::move(command));
    }
  }

  for (int i = 1; i < program_args; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("-", 0) == 0) {
      if (takes_value(arg)) ++i;
      continue;
    }
    auto subcommands = app.get_subcommands({});
    bool known_command = std::any_of(subcommands.begin(), subcommands.end(),
                                     [&](const CLI::App* sub) { return sub->get_name() == arg; });
    if (!known_command) {
      std::string known;
      for (const auto* sub : subcommands) known += (known.empty() ? "" : ", ") + sub->get_name();
      std::cerr << "puff: unknown command '" << arg << "'; the commands are: " << known
                << (config_error.empty() ? "" : "\npuff: (and the config could not be read: " +
                                                    config_error + ")")
                << "\n";
      return 2;
    }
    break;
  }
  std::vector<std::string> passed_through(argv + program_args, argv + argc);
  try {
    app.parse(program_args, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    if (!config_error.empty()) {
      // The subcommand may be one that the broken config would have defined.
      std::cerr << "puff: " << config_error << "\n";
      return 2;
    }
    app.exit(e);
    return 2;  // usage errors exit 2, like argparse and the config errors
  }

  if (example_cmd->parsed()) {
    std::cout << config::example_config();
    return 0;
  }
  if (init_cmd->parsed()) {  // before the config is needed: it may be the file being replaced
    init_options.output = config_path_from(program_args, argv);
    if (init_options.output.empty()) init_options.output = "puff.toml";
    return run_init(init_options, python::find_python_environment(flags.python_home));
  }
  if (!loaded) {
    std::cerr << "puff: " << config_error << "\n";
    return 2;
  }
  config::Config& config = *loaded;
  try {
    apply_flags(flags, config);
  } catch (const config::ConfigError& e) {
    std::cerr << "puff: " << e.what() << "\n";
    return 2;
  }
  core::LogLevel level;
  if (core::parse_log_level(config.runtime.log_level, &level)) core::set_log_level(level);

  RunContext context{config, python::find_python_environment(flags.python_home)};
  if (python_cmd->parsed()) return run_python_entry(context, "puff python", target, passed_through);
  if (django_cmd->parsed()) {
    return run_django(context, passed_through, flags.watchdog_ms.has_value());
  }
  if (pytest_cmd->parsed()) {
    return run_pytest(context, passed_through, flags.watchdog_ms.has_value());
  }
  if (runserver_cmd->parsed()) return run_runserver(context, runserver_flags);
  if (doctor_cmd->parsed()) return run_doctor(config, facts_of(context.python), std::cout);
  if (services_cmd->parsed()) return run_services(config, services_action, std::cout, std::cerr);
  for (auto& command : user_commands) {
    if (command->app->parsed()) {
      return run_python_entry(context, "puff " + command->entry.name, command->entry.function,
                              passed_through);
    }
  }
  std::cerr << "puff: no command given; see puff --help\n";
  return 2;
}

}  // namespace
}  // namespace puff::cli

int main(int argc, char** argv) {
  try {
    return puff::cli::main_checked(argc, argv);
  } catch (const std::exception& e) {
    // The last line of defence: a message, never a C++ stack or std::terminate.
    std::cerr << "puff: internal error: " << e.what() << "\n";
    return 70;
  }
}
