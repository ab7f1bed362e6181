// The small pieces of RFC 9110 syntax that requests and responses share: tokens, field-value
// bytes, optional whitespace, case-insensitive comparison and comma-separated lists.
#pragma once

#include <cstddef>
#include <string_view>

namespace puff::http {

// tchar (RFC 9110 §5.6.2).
inline bool is_token_char(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return extra.find(static_cast<char>(c)) != std::string_view::npos;
}

inline bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_token_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Field values may hold any visible byte, SP and HTAB (obs-text included), not CR/LF/NUL.
inline bool is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

inline bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

// Without leading and trailing SP/HTAB (OWS).
inline std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Calls `each(element)` for every element of a comma-separated list, trimmed; empty elements
// are skipped (RFC 9110 §5.6.1: a recipient ignores them). Stops when `each` returns false.
template <typename Each>
void for_each_list_element(std::string_view value, Each&& each) {
  while (true) {
    std::size_t comma = value.find(',');
    std::string_view element = trim_ows(value.substr(0, comma));
    if (!element.empty() && !each(element)) return;
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

inline bool list_contains(std::string_view value, std::string_view token) {
  bool found = false;
  for_each_list_element(value, [&](std::string_view element) {
    found = equals_ignoring_case(element, token);
    return !found;
  });
  return found;
}

}  // namespace puff::http
