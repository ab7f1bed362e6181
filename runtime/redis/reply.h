// A Redis reply as a small owned value (RESP2): nil, integer, status ("OK"), bulk string bytes,
// error (Redis's message, "WRONGTYPE Operation against a key ..."), or an array of replies.
#pragma once

#include <string>
#include <vector>

namespace puff::redis {

struct Reply {
  enum class Type { nil, integer, status, string, error, array };

  Type type = Type::nil;
  long long integer = 0;
  std::string str;              // status, string (binary-safe) and error text
  std::vector<Reply> elements;  // array

  bool is_nil() const { return type == Type::nil; }
  bool is_error() const { return type == Type::error; }
  // status or bulk string
  bool is_string() const { return type == Type::status || type == Type::string; }

  static Reply make_string(std::string s) { return Reply{Type::string, 0, std::move(s), {}}; }
  static Reply make_integer(long long i) { return Reply{Type::integer, i, {}, {}}; }
};

// For messages and tests: `nil`, `42`, `"bytes"` (escaped), `(error) ERR ...`, `[a, b]`.
// Long strings are cut at `limit` bytes.
std::string describe(const Reply& reply, std::size_t limit = 80);

}  // namespace puff::redis
