// `puff django COMMAND [ARGS]`: what `python manage.py COMMAND [ARGS]` does, on the hub. Django's
// own execute_from_command_line runs as the main task, so output, prompts, exit codes and
// Ctrl-C are Django's; the difference is underneath (greenlets, the native pools).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "django_puff/commands/package.h"

namespace puff::django_puff {

using cli::Command;
using cli::Invocation;
using cli::PassThrough;
using cli::RunContext;
using cli::run_entry;
namespace {

// sys.argv[0]: Django names the program after it ("Type 'puff django help' for usage.").
constexpr const char* kProgramName = "puff django";

bool has_settings_option(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& arg) {
    return arg == "--settings" || arg.rfind("--settings=", 0) == 0;
  });
}

// Commands Django runs without a project (django-admin's): no settings needed.
bool runs_without_settings(const std::vector<std::string>& args) {
  if (args.empty()) return true;
  static const std::vector<std::string> commands = {"help",       "version",  "--help", "-h",
                                                    "--version", "startproject", "startapp"};
  return std::find(commands.begin(), commands.end(), args[0]) != commands.end();
}

std::string environment_settings() {
  const char* value = std::getenv("DJANGO_SETTINGS_MODULE");
  return value ? value : "";
}

// Django's autoreloader restarts sys.executable (the venv's python) with sys.argv: that child
// would run without puff, so the reloading runserver is refused instead of half working.
bool reloading_runserver(const std::vector<std::string>& args) {
  return !args.empty() && args[0] == "runserver" &&
         std::find(args.begin(), args.end(), "--noreload") == args.end();
}

// `watchdog`: an explicit --watchdog-ms (see below).
int run_django(const RunContext& context, const std::vector<std::string>& args, bool watchdog) {
  const char* label = "puff django";
  // Precedence as with manage.py's os.environ.setdefault: --settings (Django reads it), then
  // DJANGO_SETTINGS_MODULE, then puff.toml's django_settings (or PUFF_DJANGO_SETTINGS). Set in
  // the environment, so the programs a command starts see it too.
  if (!has_settings_option(args) && environment_settings().empty()) {
    if (!context.config.django_settings.empty()) {
      setenv("DJANGO_SETTINGS_MODULE", context.config.django_settings.c_str(), 1);
    } else if (!runs_without_settings(args)) {
      std::cerr << label << ": no Django settings module; set django_settings = "
                           "\"mysite.settings\" in puff.toml, or DJANGO_SETTINGS_MODULE, or pass "
                           "--settings=mysite.settings\n";
      return 2;
    }
  }
  if (reloading_runserver(args)) {
    std::cerr << label << ": Django's autoreloader restarts plain python, not puff; run "
                          "`puff django runserver --noreload` and restart it after a change\n";
    return 2;
  }
  std::vector<std::string> argv{kProgramName};
  argv.insert(argv.end(), args.begin(), args.end());
  // The watchdog is for servers: a stall there delays every other request. A management
  // command serves one user, who waits on its prompts (createsuperuser's input()) and its CPU
  // work (migrate's loading of migrations) anyway, so stall warnings would be noise; an
  // explicit --watchdog-ms turns them back on.
  return run_entry(context, {.label = label,
                             .target = "django.core.management:execute_from_command_line",
                             .argv = argv,
                             .watchdog = watchdog});
}

}  // namespace

Command django_command() {
  return {.add =
              [](CLI::App& app) {
                // No options of its own: everything after `django` is Django's (`puff django
                // --help` too).
                return app.add_subcommand("django", "Run a Django management command on the hub, "
                                                    "as `python manage.py COMMAND [ARGS]` does");
              },
          .run =
              [](const Invocation& invocation) {
                return run_django(*invocation.context, invocation.program_args,
                                  invocation.flags.watchdog_ms.has_value());
              },
          .pass_through = PassThrough::kAfterCommand};
}

}  // namespace puff::django_puff
