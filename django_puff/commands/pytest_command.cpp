// `puff pytest [ARGS]`: what `pytest [ARGS]` does, on the hub. pytest runs as the main task
// (django_puff/testing/pytest_main.py), so plugins come from their entry points, and output and
// exit codes are pytest's; Django's test database goes through the native pools.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "django_puff/commands/package.h"

namespace puff::django_puff {

using cli::Command;
using cli::Invocation;
using cli::PassThrough;
using cli::RunContext;
using cli::run_entry;
namespace {

// `watchdog`: an explicit --watchdog-ms (as for `puff django`).
int run_pytest(const RunContext& context, const std::vector<std::string>& args, bool watchdog) {
  // puff.toml's django_settings is pytest-django's last resort, after --ds, the environment
  // and the ini file; the plugin applies it, since only pytest knows the ini file.
  if (!context.config.django_settings.empty()) {
    setenv("PUFF_DJANGO_SETTINGS", context.config.django_settings.c_str(), 1);
  }
  // xdist's workers are puff processes too (see pytest_main.py): they read the same file.
  if (!context.config.source_path.empty()) {
    setenv("PUFF_CONFIG", context.config.source_path.c_str(), 1);
  }
  std::vector<std::string> argv{"puff pytest"};
  argv.insert(argv.end(), args.begin(), args.end());
  // As for `puff django`: a test run serves one user, so stall warnings stay off unless
  // --watchdog-ms asks for them.
  return run_entry(context, {.label = "puff pytest",
                             .target = "django_puff.testing.pytest_main:main",
                             .argv = argv,
                             .watchdog = watchdog});
}

}  // namespace

Command pytest_command() {
  return {.add =
              [](CLI::App& app) {
                return app.add_subcommand("pytest", "Run pytest (with pytest-django) on the hub, "
                                                    "as `pytest [ARGS]` does");
              },
          .run =
              [](const Invocation& invocation) {
                return run_pytest(*invocation.context, invocation.program_args,
                                  invocation.flags.watchdog_ms.has_value());
              },
          .pass_through = PassThrough::kAfterCommand};
}

}  // namespace puff::django_puff
