// A one-shot reachability check of a PostgreSQL server (used by `puff doctor` and services).
#pragma once

#include <string>

namespace puff::pg {

struct ProbeResult {
  bool ok = false;
  std::string message;  // "PostgreSQL 15.18 at 127.0.0.1:5432 (db puff)" or libpq's one-line error
};

// Connects with libpq (blocking, bounded by `timeout_s`), runs SELECT 1, disconnects.
ProbeResult probe(const std::string& conninfo, double timeout_s);

}  // namespace puff::pg
