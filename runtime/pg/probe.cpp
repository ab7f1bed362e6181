#include "pg/probe.h"

#include "pg/detail/libpq_text.h"

#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <cmath>
#include <memory>

namespace puff::pg {
namespace {

using detail::one_line;

struct ConnFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnFinish>;
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

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
