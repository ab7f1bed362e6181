// Minimal native logging to stderr ("puff: <level>: message"), for code that runs before Python
// exists or off the hub. Python-side warnings go through Python's logging module instead.
#pragma once

#include <sstream>
#include <string>

namespace puff::core {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
bool parse_log_level(const std::string& name, LogLevel* out);
void write_log(LogLevel level, const std::string& message);

template <typename... Parts>
void log_at(LogLevel level, const Parts&... parts) {
  if (level < log_level()) return;
  std::ostringstream s;
  (s << ... << parts);
  write_log(level, s.str());
}
template <typename... Parts>
void log_debug(const Parts&... parts) { log_at(LogLevel::debug, parts...); }
template <typename... Parts>
void log_info(const Parts&... parts) { log_at(LogLevel::info, parts...); }
template <typename... Parts>
void log_warning(const Parts&... parts) { log_at(LogLevel::warning, parts...); }
template <typename... Parts>
void log_error(const Parts&... parts) { log_at(LogLevel::error, parts...); }

}  // namespace puff::core
