// Helpers shared by the file loader and the environment overlay. Not part of the interface:
// only config/*.cpp and the config tests include this.
#pragma once

#include <cstdint>
#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace puff::config::detail {

// Limits shared by the file and the environment, so both report the same ranges.
struct IntRange {
  std::int64_t lo;
  std::int64_t hi;
};
inline constexpr IntRange kIoThreadsRange{0, 256};
inline constexpr IntRange kBlockingThreadsRange{1, 1024};
inline constexpr IntRange kWatchdogMsRange{0, 600000};
inline constexpr IntRange kWorkersRange{1, 256};

using Choices = std::span<const std::string_view>;
inline constexpr std::array<std::string_view, 4> kLogLevels = {"debug", "info", "warning", "error"};
inline constexpr std::array<std::string_view, 3> kAccessLogFormats = {"common", "json", "off"};
// `puff <name>` for these is taken by the CLI itself.
inline constexpr std::array<std::string_view, 11> kBuiltinCommands = {
    "python", "django", "pytest", "runserver", "doctor", "services",
    "example-config", "version", "help", "init", "new"};

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// ` did you mean "x"?` for the closest choice within distance 2 (ignoring case), else "".
std::string did_you_mean(std::string_view word, Choices choices);
std::string join(Choices items, std::string_view separator = ", ");
std::string quote(std::string_view text);  // "text", with " and \ escaped
std::string to_lower(std::string_view text);

// Each check returns "" when valid, else "<what is wrong>; <what is allowed>".
std::string check_choice(const std::string& value, Choices choices);
std::string check_entry_name(const std::string& name);    // [[postgres]] / [[redis]] names
std::string check_command_name(const std::string& name);  // [[commands]] names
std::string check_function_ref(const std::string& ref);   // "module:function"
std::string check_settings_module(const std::string& dotted);  // "mysite.settings"
std::string check_wsgi_target(const std::string& target);      // "mysite.wsgi.application"
std::string check_proxy_address(const std::string& address);   // IP or CIDR range

// The NAME in PUFF_<NAME>_POSTGRES_URL for an entry name: upper-cased, '-' -> '_'.
std::string env_name(std::string_view entry_name);

// `path` made absolute against `base` and lexically normalised, without a trailing slash.
std::string resolve_path(const std::string& base, const std::string& path);

// Applies the PUFF_* variables of `env` to `config` (config_env.cpp).
void apply_environment(Config& config, const Environment& env);

// Adds implicit "default" postgres / redis entries (url "embedded") when the user wrote none.
void ensure_default_entries(Config& config);

}  // namespace puff::config::detail
