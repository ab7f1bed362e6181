#include "redis/reply.h"

#include <cstdio>

namespace puff::redis {
namespace {

void quote(std::string& out, const std::string& s, std::size_t limit) {
  out += '"';
  for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (s.size() > limit) out += "...(" + std::to_string(s.size()) + " bytes)";
}

void append(std::string& out, const Reply& r, std::size_t limit) {
  switch (r.type) {
    case Reply::Type::nil: out += "nil"; return;
    case Reply::Type::integer: out += std::to_string(r.integer); return;
    case Reply::Type::status: out += r.str; return;
    case Reply::Type::string: quote(out, r.str, limit); return;
    case Reply::Type::error: out += "(error) " + r.str; return;
    case Reply::Type::array:
      out += '[';
      for (std::size_t i = 0; i < r.elements.size(); ++i) {
        if (i) out += ", ";
        append(out, r.elements[i], limit);
      }
      out += ']';
      return;
  }
}

}  // namespace

std::string describe(const Reply& reply, std::size_t limit) {
  std::string out;
  append(out, reply, limit);
  return out;
}

}  // namespace puff::redis
