#include "pg/probe.h"

#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <cmath>
#include <memory>

namespace puff::pg {
namespace {

struct ConnFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnFinish>;
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// libpq's errors span lines:
//   connection to server at "127.0.0.1", port 5432 failed: Connection refused
//   \tIs the server running on that host and accepting TCP/IP connections?
// One line for the user: "connection refused at 127.0.0.1:5432; is the server running on that
// host and accepting TCP/IP connections?". Only the first attempt is kept when libpq tried
// several hosts/addresses.
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

// Waits for the query's result without blocking past `deadline`; null on timeout.
ResultPtr wait_result(PGconn* conn, std::chrono::steady_clock::time_point deadline,
                      std::string& error) {
  ResultPtr last;
  for (;;) {
    while (PQisBusy(conn)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        error = "no answer to SHOW server_version within the timeout";
        return nullptr;
      }
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) < 0 || !PQconsumeInput(conn)) {
        error = one_line(PQerrorMessage(conn));
        return nullptr;
      }
    }
    PGresult* r = PQgetResult(conn);
    if (!r) break;
    last.reset(r);
  }
  if (!last) error = one_line(PQerrorMessage(conn));
  return last;
}

}  // namespace

ProbeResult probe(const std::string& conninfo, double timeout_s) {
  // libpq's connect_timeout is whole seconds (and treats 1 as 2): round up, at least 1.
  int seconds = static_cast<int>(std::ceil(timeout_s));
  if (seconds < 1) seconds = 1;
  const std::string timeout = std::to_string(seconds);
  // With expand_dbname the URI/conninfo in "dbname" is expanded first; later keywords override
  // it, so our connect_timeout wins over one in the URL.
  const char* keywords[] = {"dbname", "connect_timeout", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), timeout.c_str(), "puff", nullptr};

  ConnPtr conn(PQconnectdbParams(keywords, values, 1));
  if (!conn) return {false, "out of memory in libpq"};
  if (PQstatus(conn.get()) != CONNECTION_OK) return {false, one_line(PQerrorMessage(conn.get()))};

  std::string where = PQhost(conn.get()) ? PQhost(conn.get()) : "?";
  if (!where.empty() && where[0] == '/') {
    where += "/.s.PGSQL." + std::string(PQport(conn.get()));
  } else {
    where += std::string(":") + PQport(conn.get());
  }
  const std::string db = PQdb(conn.get()) ? PQdb(conn.get()) : "";

  if (!PQsendQuery(conn.get(), "SHOW server_version")) {
    return {false, one_line(PQerrorMessage(conn.get())) + " at " + where};
  }
  std::string error;
  ResultPtr result = wait_result(
      conn.get(), std::chrono::steady_clock::now() + std::chrono::seconds(seconds), error);
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
    if (error.empty() && result) error = one_line(PQresultErrorMessage(result.get()));
    return {false, "connected to " + where + " but SHOW server_version failed: " + error};
  }
  std::string version = PQgetvalue(result.get(), 0, 0);
  version = version.substr(0, version.find(' '));  // "15.18 (Debian 15.18-0+deb12u1)"
  return {true, "PostgreSQL " + version + " at " + where + " (db " + db + ")"};
}

}  // namespace puff::pg
