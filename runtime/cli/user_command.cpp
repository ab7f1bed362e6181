// puff.toml's [[commands]]: each entry is a subcommand that runs its function as `puff python`
// does, with every argument after its name passed to the program.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace puff::cli {

Command user_command(const config::CommandConfig& entry) {
  return {.add =
              [entry](CLI::App& app) {
                std::string help = entry.help.empty() ? "runs " + entry.function : entry.help;
                return app.add_subcommand(entry.name, help);
              },
          .run =
              [entry](const Invocation& invocation) {
                return run_python_entry(*invocation.context, "puff " + entry.name, entry.function,
                                        invocation.program_args);
              },
          .pass_through = PassThrough::kAfterCommand};
}

}  // namespace puff::cli
