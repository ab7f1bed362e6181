#include "services/detail/server_start.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "services/services.h"

namespace puff::services::detail {

int choose_port(const std::string& service, int recorded, std::ostream& out) {
  if (recorded > 0 && tcp_port_free(recorded)) return recorded;
  int port = pick_free_tcp_port();
  if (port == 0) throw ServiceError("cannot find a free TCP port on 127.0.0.1 for " + service);
  if (recorded > 0) {
    out << service << ": port " << recorded << " is taken by another program; using " << port
        << " instead\n";
  }
  return port;
}

std::string relevant_output_line(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (!line.empty()) lines.push_back(line);
  }
  // redis-server: "*** FATAL CONFIG FILE ERROR ***", ">>> 'save "a b"'", "Invalid save parameters".
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].rfind(">>> ", 0) == 0) {
      return "bad setting " + lines[i].substr(4) + ": " + lines.back();
    }
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    std::string lower = *it;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower.find("error") != std::string::npos || lower.find("fatal") != std::string::npos) {
      return *it;
    }
  }
  return lines.empty() ? "" : lines.back();
}

std::string failure_reason(const RunResult& r, const std::string& log, std::uintmax_t log_from) {
  if (!r.error.empty()) return r.error;
  std::string line;
  if (!log.empty()) line = last_relevant_log_line(log, log_from);
  if (line.empty()) line = relevant_output_line(r.output);
  if (r.timed_out) return "timed out" + (line.empty() ? "" : ": " + line);
  if (line.empty()) return "exit status " + std::to_string(r.exit_code);
  return line;
}

}  // namespace puff::services::detail
