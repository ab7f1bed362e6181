#include "pg/detail/libpq_text.h"

namespace puff::pg::detail {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string one_line(const std::string& libpq_message) {
  std::string text = trim(libpq_message);
  auto nl = text.find('\n');
  std::string first = trim(text.substr(0, nl));
  std::string hint;
  if (nl != std::string::npos) {
    std::string second = text.substr(nl + 1);
    second = trim(second.substr(0, second.find('\n')));
    if (!second.empty() && second.rfind("Is the server", 0) == 0) hint = second;
  }

  // Move libpq 14+'s "connection to server ... failed: " prefix behind the reason.
  std::string where;
  const std::string at_prefix = "connection to server at \"";
  const std::string socket_prefix = "connection to server on socket \"";
  const std::string failed = " failed: ";
  auto cut = first.find(failed);
  if (cut != std::string::npos) {
    std::string head = first.substr(0, cut);
    if (head.rfind(at_prefix, 0) == 0) {
      // connection to server at "HOST" (ADDR), port PORT
      auto host_end = head.find('"', at_prefix.size());
      std::string host = head.substr(at_prefix.size(), host_end - at_prefix.size());
      auto port_at = head.rfind("port ");
      std::string port = port_at == std::string::npos ? "" : head.substr(port_at + 5);
      where = host + (port.empty() ? "" : ":" + port);
    } else if (head.rfind(socket_prefix, 0) == 0) {
      auto end = head.find('"', socket_prefix.size());
      where = head.substr(socket_prefix.size(), end - socket_prefix.size());
    }
    if (!where.empty()) {
      std::string reason = first.substr(cut + failed.size());
      // "Connection refused" -> "connection refused"; keep "FATAL:" and acronyms as they are.
      if (reason.size() > 1 && reason[0] >= 'A' && reason[0] <= 'Z' && reason[1] >= 'a' &&
          reason[1] <= 'z') {
        reason[0] = static_cast<char>(reason[0] - 'A' + 'a');
      }
      if (reason.rfind("FATAL:", 0) == 0) reason = trim(reason.substr(6));
      first = reason + " at " + where;
    }
  }
  if (!hint.empty()) {
    hint[0] = static_cast<char>(hint[0] - 'A' + 'a');
    if (!hint.empty() && hint.back() == '?') hint.pop_back();
    first += "; " + hint + "?";
  }
  return first.empty() ? "connection failed (libpq gave no reason)" : first;
}

}  // namespace puff::pg::detail
