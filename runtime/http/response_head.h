// Checking and writing a response head. The checks refuse what would let a handler inject
// headers or split the response (CR, LF, NUL; names that are not HTTP tokens).
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "http/types.h"

namespace puff::http {

// "" when `head` may be written, else one line saying what is wrong.
std::string check_response_head(const ResponseHead& head);

// Parses a status line "NNN Reason" (PEP 3333's status string). "" on success.
std::string parse_status(std::string_view status, int* code, std::string* reason);

// True for a header name that equals `name` ignoring ASCII case.
bool header_is(const Header& header, std::string_view name);

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), as Date and Last-Modified want it.
std::string format_http_date(std::time_t when);
// The value for the "Date:" header of now, cached per second (any thread).
std::string http_date_now();

// Responses that never have a body, whatever their headers say.
inline bool status_has_no_body(int status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

}  // namespace puff::http
