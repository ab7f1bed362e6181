// `puff init [--settings M] [--force]`: writes puff.toml for an existing Django project from its
// settings (django_puff/init_config.py reads them inside the runtime), then loads the file back
// with the same loader every command uses, so what it wrote is known to be valid.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "django_puff/commands/package.h"
#include "core/paths.h"

namespace puff::django_puff {

using cli::Command;
using cli::Invocation;
using cli::PassThrough;
using cli::RunContext;
using cli::run_entry;
namespace {

struct InitOptions {
  std::string output;    // the puff.toml to write (--config, else ./puff.toml)
  std::string settings;  // --settings; empty: DJANGO_SETTINGS_MODULE, then manage.py's default
  bool force = false;    // replace an existing file
};

// Exit 1 when the file exists (without --force) or the settings cannot be read.
int run_init(const InitOptions& options, const python::PythonEnvironment& python) {
  const char* label = "puff init";
  const std::string output = core::absolute_path(options.output, core::current_directory());
  std::error_code error;
  if (std::filesystem::exists(output, error) && !options.force) {
    std::cerr << label << ": " << output
              << " already exists; pass --force to replace it (`puff example-config` shows "
                 "every key)\n";
    return 1;
  }
  // The project is the directory the file goes into: its settings import from there, as
  // manage.py's do. No configuration is read (the old file may be the broken one).
  config::Config defaults;
  defaults.project_dir = std::filesystem::path(output).parent_path().string();
  std::vector<std::string> argv{label, "--output", output};
  if (!options.settings.empty()) argv.insert(argv.end(), {"--settings", options.settings});
  if (options.force) argv.push_back("--force");
  int code = run_entry({defaults, python}, {.label = label,
                                            .target = "django_puff.init_config:main",
                                            .argv = argv,
                                            .watchdog = false});
  if (code != 0) return code;
  try {
    config::load(output, defaults.project_dir, {});
  } catch (const config::ConfigError& e) {
    std::cerr << label << ": wrote " << output << " but it does not load (a bug in puff init; "
              << "please report it): " << e.what() << "\n";
    return 70;
  }
  return 0;
}

}  // namespace

// Runs without the configuration: the file it writes may be the broken one being replaced.
Command init_command() {
  auto options = std::make_shared<InitOptions>();
  return {.add =
              [options](CLI::App& app) {
                auto* command = app.add_subcommand(
                    "init", "Write puff.toml for an existing Django project from its settings "
                            "(DATABASES, CACHES, WSGI)");
                command->add_option("--settings", options->settings,
                                    "settings module (default: DJANGO_SETTINGS_MODULE, else "
                                    "manage.py's)");
                command->add_flag("--force", options->force, "replace an existing puff.toml");
                return command;
              },
          .run =
              [options](const Invocation& invocation) {
                options->output = invocation.config_path.empty() ? "puff.toml"
                                                                 : invocation.config_path;
                return run_init(*options,
                                python::find_python_environment(invocation.flags.python_home));
              },
          .needs_config = false};
}

}  // namespace puff::django_puff
