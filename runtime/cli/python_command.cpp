// `puff python MODULE:FUNCTION [ARGS]`: runs a Python entry point as the main task on the hub
// (python_runner.cpp); its exit code comes from the function's return value.
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/commands.h"

namespace puff::cli {

Command python_command() {
  auto target = std::make_shared<std::string>();
  return {.add =
              [target](CLI::App& app) {
                auto* command = app.add_subcommand(
                    "python", "Run MODULE:FUNCTION as a greenlet on the hub (its exit code comes "
                              "from its return value)");
                command->add_option("target", *target, "MODULE:FUNCTION, e.g. myproject.jobs:main")
                    ->required();
                command->footer(
                    "Arguments after MODULE:FUNCTION are passed in sys.argv[1:], flags too.");
                return command;
              },
          .run =
              [target](const Invocation& invocation) {
                return run_python_entry(*invocation.context, "puff python", *target,
                                        invocation.program_args);
              },
          .pass_through = PassThrough::kAfterFirstArgument};
}

}  // namespace puff::cli
