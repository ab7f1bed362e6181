#include "config/table_reader.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace puff::config::detail {
namespace {

// A year: long enough for any timeout, small enough to convert to any clock's duration.
constexpr double kMaxSeconds = 365.0 * 24 * 3600;

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

void fail_at(const std::string& file, std::uint32_t line, const std::string& message) {
  std::string where = line == 0 ? file : file + ":" + std::to_string(line);
  throw ConfigError(where + ": " + message);
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

std::string a_type_name(const toml::node& node) {
  std::string_view name = type_name(node);
  return (name[0] == 'a' || name[0] == 'i' ? "an " : "a ") + std::string(name);
}

TableReader::TableReader(const std::string& file, const toml::table& table, std::string label,
                         Choices keys)
    : file_(file), table_(table), label_(std::move(label)) {
  const toml::key* unknown = nullptr;
  for (const auto& [key, value] : table_) {
    if (std::find(keys.begin(), keys.end(), key.str()) != keys.end()) continue;
    // toml::table is ordered by key; report the first unknown key of the file instead.
    if (unknown == nullptr || key.source().begin.line < unknown->source().begin.line) {
      unknown = &key;
    }
  }
  if (unknown == nullptr) return;
  std::string message = "unknown key " + quote(unknown->str());
  message += label_.empty() ? " at the top level" : " in " + label_;
  std::string hint = did_you_mean(unknown->str(), keys);
  message += hint.empty() ? "; " : "; " + hint + " ";
  message += "allowed keys: " + join(keys);
  fail_line(unknown->source().begin.line, message);
}

bool TableReader::read_int64(std::string_view key, std::int64_t& out, IntRange range) const {
  if (!has(key)) return false;
  const toml::node& value = node(key);
  if (!value.is_integer()) fail_type(key, "an integer");
  std::int64_t number = value.as_integer()->get();
  if (number < range.lo || number > range.hi) {
    fail(key, " = " + std::to_string(number) + " is out of range; allowed: " +
                  std::to_string(range.lo) + ".." + std::to_string(range.hi));
  }
  out = number;
  return true;
}

bool TableReader::read_int(std::string_view key, int& out, IntRange range) const {
  std::int64_t number = 0;
  if (!read_int64(key, number, range)) return false;
  out = static_cast<int>(number);  // the range keeps it within int
  return true;
}

bool TableReader::read_seconds(std::string_view key, double& out, bool allow_zero) const {
  if (!has(key)) return false;
  const toml::node& value = node(key);
  double seconds = 0;
  if (value.is_integer()) {
    seconds = static_cast<double>(value.as_integer()->get());
  } else if (value.is_floating_point()) {
    seconds = value.as_floating_point()->get();
  } else {
    fail_type(key, "a number of seconds");
  }
  bool ok = std::isfinite(seconds) && (allow_zero ? seconds >= 0 : seconds > 0) &&
            seconds <= kMaxSeconds;
  if (!ok) {
    fail(key, " = " + format_number(seconds) + " is out of range; allowed: seconds " +
                  (allow_zero ? ">= 0" : "> 0") + ", at most " + format_number(kMaxSeconds));
  }
  out = seconds;
  return true;
}

bool TableReader::read_bool(std::string_view key, bool& out) const {
  if (!has(key)) return false;
  const toml::node& value = node(key);
  if (!value.is_boolean()) fail_type(key, "a boolean (true or false)");
  out = value.as_boolean()->get();
  return true;
}

bool TableReader::read_string(std::string_view key, std::string& out,
                              std::string (*check)(const std::string&)) const {
  if (!has(key)) return false;
  const toml::node& value = node(key);
  if (!value.is_string()) fail_type(key, "a string");
  std::string text = value.as_string()->get();
  if (check != nullptr) {
    std::string error = check(text);
    if (!error.empty()) fail(key, ": " + error);
  }
  out = std::move(text);
  return true;
}

bool TableReader::read_choice(std::string_view key, std::string& out, Choices choices) const {
  std::string text;
  if (!read_string(key, text)) return false;
  std::string error = check_choice(text, choices);
  if (!error.empty()) fail(key, ": " + error);
  out = std::move(text);
  return true;
}

bool TableReader::read_strings(std::string_view key, std::vector<LineString>& out) const {
  if (!has(key)) return false;
  const toml::node& value = node(key);
  if (!value.is_array()) fail_type(key, "an array of strings");
  std::vector<LineString> items;
  for (const toml::node& item : *value.as_array()) {
    std::uint32_t item_line = item.source().begin.line;
    if (!item.is_string()) {
      fail_line(item_line != 0 ? item_line : line(key),
                name(key) + " must be an array of strings, got " + a_type_name(item) +
                    " element");
    }
    items.push_back({item.as_string()->get(), item_line != 0 ? item_line : line(key)});
  }
  out = std::move(items);
  return true;
}

std::uint32_t TableReader::line(std::string_view key) const {
  const toml::node* value = table_.get(key);
  std::uint32_t value_line = value != nullptr ? value->source().begin.line : 0;
  return value_line != 0 ? value_line : table_line();
}

std::string TableReader::name(std::string_view key) const {
  return label_.empty() ? std::string(key) : label_ + " " + std::string(key);
}

void TableReader::fail(std::string_view key, const std::string& message) const {
  fail_line(line(key), name(key) + message);
}

void TableReader::fail_line(std::uint32_t line, const std::string& message) const {
  fail_at(file_, line, message);
}

void TableReader::fail_type(std::string_view key, std::string_view expected) const {
  fail(key, " must be " + std::string(expected) + ", got " + std::string(type_name(node(key))));
}

}  // namespace puff::config::detail
