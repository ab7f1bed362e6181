// A one-shot reachability check of a Redis server (used by `puff doctor` and services).
#pragma once

#include <string>

namespace puff::redis {

struct ProbeResult {
  bool ok = false;
  std::string message;  // "Redis 7.0.15 at 127.0.0.1:6379" or a one-line error
};

// Parses `url` (redis://[user:pass@]host[:port][/db], unix:///path[?db=N]), connects with
// hiredis (bounded by `timeout_s`), authenticates if asked, SELECTs the db, PINGs.
ProbeResult probe(const std::string& url, double timeout_s);

}  // namespace puff::redis
