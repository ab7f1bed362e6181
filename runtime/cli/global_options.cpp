#include "cli/global_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <vector>

#include "core/log.h"

namespace puff::cli {

void add_global_options(CLI::App& app, GlobalFlags& flags) {
  app.add_option("--config", flags.config_path,
                 "puff.toml to read (default: ./puff.toml if present, or $PUFF_CONFIG)");
  app.add_option("--python-home", flags.python_home,
                 "virtualenv to run in (default: the one puff is installed in, or $VIRTUAL_ENV)");
  app.add_option("--io-threads", flags.io_threads,
                 "IO threads (0 = one per core but the hub's, at least 1)");
  app.add_option("--blocking-threads", flags.blocking_threads,
                 "size of the @puff.blocking thread pool");
  app.add_option("--watchdog-ms", flags.watchdog_ms,
                 "warn when the hub is blocked this long (0 = off)");
  app.add_option("--log-level", flags.log_level, "debug, info, warning or error");
}

bool global_option_takes_value(const std::string& arg) {
  static const std::vector<std::string> with_value = {
      "--config", "--python-home", "--io-threads", "--blocking-threads", "--watchdog-ms",
      "--log-level"};
  return std::find(with_value.begin(), with_value.end(), arg) != with_value.end();
}

void apply_global_flags(const GlobalFlags& flags, config::Config& config) {
  auto in_range = [](const char* flag, int value, int low, int high) {
    if (value < low || value > high) {
      throw config::ConfigError(std::string(flag) + ": must be " + std::to_string(low) + ".." +
                                std::to_string(high) + ", got " + std::to_string(value));
    }
    return value;
  };
  if (flags.io_threads) {
    config.runtime.io_threads = in_range("--io-threads", *flags.io_threads, 0, 256);
  }
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

}  // namespace puff::cli
