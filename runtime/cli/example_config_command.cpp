// `puff example-config`: prints a complete, commented puff.toml (config/example_config.cpp).
// Runs without reading the configuration, so it helps most when that is broken.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

namespace puff::cli {

Command example_config_command() {
  return {.add =
              [](CLI::App& app) {
                return app.add_subcommand("example-config",
                                          "Print a complete, commented puff.toml");
              },
          .run =
              [](const Invocation&) {
                std::cout << config::example_config();
                return 0;
              },
          .needs_config = false};
}

}  // namespace puff::cli
