// The `puff` executable: builds the command line (CLI11) from the table of commands (commands.h)
// and puff.toml's [[commands]], parses it and runs the command given.
// Configuration precedence: puff.toml < environment < flags.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/packages.h"
#include "config/config.h"
#include "core/log.h"
#include "core/paths.h"

#ifndef PUFF_VERSION
#define PUFF_VERSION "0.0.0"
#endif

namespace puff::cli {
namespace {

// The built-in commands, in the order `puff --help` lists them: the runtime's, with the linked
// packages' after `python`.
std::vector<Command> builtin_commands() {
  std::vector<Command> commands{python_command()};
  for (const Package& package : linked_packages()) {
    commands.insert(commands.end(), package.commands.begin(), package.commands.end());
  }
  for (Command (*command)() : {doctor_command, example_config_command, services_command,
                               runserver_command}) {
    commands.push_back(command());
  }
  return commands;
}

// A command and the subcommand it added to the command line.
struct Registered {
  Command command;
  CLI::App* app;
};

std::vector<Registered> register_commands(CLI::App& app, std::vector<Command> commands) {
  std::vector<Registered> registered;
  for (Command& command : commands) {
    CLI::App* subcommand = command.add(app);
    registered.push_back({std::move(command), subcommand});
  }
  return registered;
}

// Where puff's own arguments end: the arguments after `python MODULE:FUNCTION`, after `django`
// or `pytest`, or after a `[[commands]]` name, belong to the program (sys.argv[1:]) and must not
// be read as puff's flags, or `puff python job:main --config x --help` would change puff's config
// and print puff's help (each command's PassThrough says which). Any word that is not a built-in
// command is taken as a [[commands]] name here; unknown ones are reported after the config is
// read. Returns argc when nothing passes through.
int program_args_start(int argc, char** argv, const std::vector<Registered>& builtins) {
  std::optional<PassThrough> pass_through;  // set by the command's name
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return argc;
    if (arg[0] == '-') {
      if (global_option_takes_value(arg)) ++i;  // --flag VALUE (the --flag=VALUE form is one word)
      continue;
    }
    if (pass_through == PassThrough::kAfterFirstArgument) return i + 1;  // just after it
    if (pass_through) continue;
    auto builtin = std::find_if(builtins.begin(), builtins.end(),
                                [&](const Registered& r) { return r.app->get_name() == arg; });
    pass_through = builtin == builtins.end() ? PassThrough::kAfterCommand
                                             : builtin->command.pass_through;
    if (pass_through == PassThrough::kAfterCommand) return i + 1;
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

// The configuration, or why it could not be read. A broken file only fails commands that
// need it (example-config and --version/--help don't).
struct LoadedConfig {
  std::optional<config::Config> config;
  std::string error;
};

LoadedConfig load_config(const std::string& path) {
  LoadedConfig loaded;
  try {
    loaded.config = config::load(path, core::current_directory(), config::process_environment());
  } catch (const config::ConfigError& e) {
    loaded.error = e.what();
  }
  return loaded;
}

// The first word among puff's own arguments must name a command: else one line listing them
// (and saying why the config's own commands may be missing), exit 2.
std::optional<int> reject_unknown_command(CLI::App& app, int program_args, char** argv,
                                          const std::string& config_error) {
  for (int i = 1; i < program_args; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("-", 0) == 0) {
      if (global_option_takes_value(arg)) ++i;
      continue;
    }
    auto subcommands = app.get_subcommands({});
    bool known_command = std::any_of(subcommands.begin(), subcommands.end(),
                                     [&](const CLI::App* sub) { return sub->get_name() == arg; });
    if (known_command) return std::nullopt;
    std::string known;
    for (const auto* sub : subcommands) known += (known.empty() ? "" : ", ") + sub->get_name();
    std::cerr << "puff: unknown command '" << arg << "'; the commands are: " << known
              << (config_error.empty() ? "" : "\npuff: (and the config could not be read: " +
                                                  config_error + ")")
              << "\n";
    return 2;
  }
  return std::nullopt;
}

// Parses puff's own arguments; an exit code when there is nothing to run: 0 after --help or
// --version, 2 for a usage error (like argparse and the config errors).
std::optional<int> parse_arguments(CLI::App& app, int program_args, char** argv,
                                   const std::string& config_error) {
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
    return 2;
  }
  return std::nullopt;
}

// Runs the parsed command: the configuration is checked first unless it runs without.
int run_parsed(const Command& command, const GlobalFlags& flags, LoadedConfig& loaded,
               const std::string& config_path, const std::vector<std::string>& program_args) {
  if (!command.needs_config) return command.run({flags, config_path, program_args, nullptr});
  if (!loaded.config) {
    std::cerr << "puff: " << loaded.error << "\n";
    return 2;
  }
  config::Config& config = *loaded.config;
  try {
    apply_global_flags(flags, config);
  } catch (const config::ConfigError& e) {
    std::cerr << "puff: " << e.what() << "\n";
    return 2;
  }
  core::LogLevel level;
  if (core::parse_log_level(config.runtime.log_level, &level)) core::set_log_level(level);
  RunContext context{config, python::find_python_environment(flags.python_home)};
  return command.run({flags, config_path, program_args, &context});
}

int main_checked(int argc, char** argv) {
  CLI::App app{"puff: a native runtime for Django. Python code stays ordinary sync Django; the "
               "runtime does the IO and runs every request, command and task as a greenlet."};
  app.set_version_flag("--version", std::string("puff ") + PUFF_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  GlobalFlags flags;
  add_global_options(app, flags);
  std::vector<Registered> commands = register_commands(app, builtin_commands());

  const int program_args = program_args_start(argc, argv, commands);
  const std::string config_path = config_path_from(program_args, argv);
  // Loaded before parsing: its [[commands]] become subcommands.
  LoadedConfig loaded = load_config(config_path);
  if (loaded.config) {
    std::vector<Command> user_commands;
    for (const auto& entry : loaded.config->commands) user_commands.push_back(user_command(entry));
    for (Registered& r : register_commands(app, std::move(user_commands))) {
      commands.push_back(std::move(r));
    }
  }
  if (auto code = reject_unknown_command(app, program_args, argv, loaded.error)) return *code;
  const std::vector<std::string> program_arguments(argv + program_args, argv + argc);
  if (auto code = parse_arguments(app, program_args, argv, loaded.error)) return *code;

  for (const Registered& r : commands) {
    if (r.app->parsed()) {
      return run_parsed(r.command, flags, loaded, config_path, program_arguments);
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
