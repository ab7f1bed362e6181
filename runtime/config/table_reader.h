// Typed, checked access to one TOML table: every error names the file, the line, the table and
// the key, and says what is allowed. Internal to the config component.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/detail.h"

namespace puff::config::detail {

// Throws ConfigError("<file>:<line>: <message>"); line 0 leaves the line out.
[[noreturn]] void fail_at(const std::string& file, std::uint32_t line, const std::string& message);

// "string", "integer", "float", "boolean", "table", "array", "date", ...
std::string_view type_name(const toml::node& node);
// "a string", "an integer", ...
std::string a_type_name(const toml::node& node);

// A string from an array, with the line it was written on.
struct LineString {
  std::string value;
  std::uint32_t line = 0;
};

class TableReader {
 public:
  // Throws for the first (by line) key of `table` that is not in `keys`. `label` names the table
  // in messages: "[runtime]", "[[postgres]]", or "" for the top level.
  TableReader(const std::string& file, const toml::table& table, std::string label,
              Choices keys);

  // Each read_* returns false (leaving `out` alone) when the key is absent and throws
  // ConfigError when the value has the wrong type or is out of range.
  bool read_int(std::string_view key, int& out, IntRange range) const;
  bool read_int64(std::string_view key, std::int64_t& out, IntRange range) const;
  // Seconds as integer or float; must be > 0, or >= 0 when `allow_zero`.
  bool read_seconds(std::string_view key, double& out, bool allow_zero) const;
  bool read_bool(std::string_view key, bool& out) const;
  // `check` (may be null) returns "" or "<what is wrong>; <what is allowed>".
  bool read_string(std::string_view key, std::string& out,
                   std::string (*check)(const std::string&) = nullptr) const;
  bool read_choice(std::string_view key, std::string& out, Choices choices) const;
  bool read_strings(std::string_view key, std::vector<LineString>& out) const;

  bool has(std::string_view key) const { return table_.contains(key); }
  const std::string& file() const { return file_; }
  // The line of the key's value, or of the table when the key is absent.
  std::uint32_t line(std::string_view key) const;
  std::uint32_t table_line() const { return table_.source().begin.line; }
  // "[runtime] io_threads" (or just the key at the top level).
  std::string name(std::string_view key) const;
  // Throws "<file>:<line of key>: <name(key)><message>".
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;
  [[noreturn]] void fail_line(std::uint32_t line, const std::string& message) const;

 private:
  const toml::node& node(std::string_view key) const { return *table_.get(key); }
  [[noreturn]] void fail_type(std::string_view key, std::string_view expected) const;

  const std::string& file_;
  const toml::table& table_;
  std::string label_;
};

}  // namespace puff::config::detail
