// Turning libpq's multi-line error texts into the one-line messages users see.
#pragma once

#include <string>

namespace puff::pg::detail {

std::string trim(const std::string& s);

// libpq's errors span lines:
//   connection to server at "127.0.0.1", port 5432 failed: Connection refused
//   \tIs the server running on that host and accepting TCP/IP connections?
// One line for the user: "connection refused at 127.0.0.1:5432; is the server running on that
// host and accepting TCP/IP connections?". Only the first attempt is kept when libpq tried
// several hosts/addresses.
std::string one_line(const std::string& libpq_message);

}  // namespace puff::pg::detail
