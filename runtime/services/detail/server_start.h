// What starting either server needs: a free port, and the one line that says why a start failed.
// Internal to the services component (services.h is its interface).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "services/process.h"

namespace puff::services::detail {

// How long a status check or a start waits for a server's answer.
inline constexpr double kProbeTimeout = 2.0;

// A port for a server: the recorded one when still free, else a new one (said aloud on `out`).
// Throws ServiceError when there is none.
int choose_port(const std::string& service, int recorded, std::ostream& out);

// The line of a command's output that explains a failure: a redis-server config error
// (">>> 'line'" then the reason), else the last line that mentions an error, else the last.
std::string relevant_output_line(const std::string& output);

// Why a command `r` failed: the error starting it, else the relevant line of `log` written
// after byte `log_from` (none when `log` is ""), else of its output, else its exit status.
std::string failure_reason(const RunResult& r, const std::string& log, std::uintmax_t log_from);

}  // namespace puff::services::detail
