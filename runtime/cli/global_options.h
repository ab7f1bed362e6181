// puff's own options (--config, --python-home, --io-threads, ...), accepted before and after
// the command. Configuration precedence: puff.toml < environment < these flags.
#pragma once

#include <optional>
#include <string>

#include "config/config.h"

namespace CLI {
class App;
}

namespace puff::cli {

struct GlobalFlags {
  std::string config_path;
  std::string python_home;
  std::optional<int> io_threads;
  std::optional<int> blocking_threads;
  std::optional<int> watchdog_ms;
  std::string log_level;
};

void add_global_options(CLI::App& app, GlobalFlags& flags);

// Whether `arg` is one of the options written as two words (--flag VALUE).
bool global_option_takes_value(const std::string& arg);

// Flags win over the file and the environment; throws config::ConfigError naming the flag.
void apply_global_flags(const GlobalFlags& flags, config::Config& config);

}  // namespace puff::cli
