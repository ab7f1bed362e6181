// The request-target split the way CGI and WSGI want it.
#pragma once

#include <string>
#include <string_view>

namespace puff::http {

struct SplitTarget {
  std::string path;   // still percent-encoded; "/" for an absolute-form target without a path
  std::string query;  // after the first '?', without it; "" when there is none
};

// Origin-form ("/a?b"), absolute-form ("http://host/a?b": scheme and authority dropped) and
// asterisk-form ("*"). A fragment ('#...') is dropped.
SplitTarget split_target(std::string_view target);

// Decodes %XX escapes into bytes; a '%' not followed by two hex digits stays as it is (as
// gunicorn and wsgiref do). '+' is not a space in a path.
std::string percent_decode(std::string_view text);

}  // namespace puff::http
