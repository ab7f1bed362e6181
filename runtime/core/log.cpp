#include "core/log.h"

#include <unistd.h>

#include <atomic>

namespace puff::core {
namespace {
std::atomic<LogLevel> current_level{LogLevel::info};
const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}
}  // namespace

void set_log_level(LogLevel level) { current_level = level; }
LogLevel log_level() { return current_level; }

bool parse_log_level(const std::string& name, LogLevel* out) {
  for (auto level : {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error}) {
    if (name == level_name(level)) {
      *out = level;
      return true;
    }
  }
  return false;
}

void write_log(LogLevel level, const std::string& message) {
  // One write(2) per line so lines from several threads never interleave.
  std::string line = std::string("puff: ") + level_name(level) + ": " + message + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace puff::core
