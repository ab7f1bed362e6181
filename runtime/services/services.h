// Embedded development services: a private PostgreSQL cluster and a private redis-server under
// the project's services directory (.puff/ by default), loopback and unix sockets only.
// Pure C++ (no Python). Used by `puff services up|down|status` and to resolve the URL "embedded".
#pragma once

#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>

namespace puff::services {

// A failure the user can act on; what() is one line saying what failed and what to do.
class ServiceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServiceStatus {
  std::string name;   // "postgres" | "redis"
  bool running = false;
  std::string url;    // connection URL when known (also when stopped: where it will be)
  std::string detail; // e.g. "pid 1234, data in .puff/postgres/data" or why it is not running
};

class Services {
 public:
  // `dir`: absolute path of the services directory (created on demand).
  explicit Services(std::string dir);

  // Creates (first time) and starts both services; idempotent: already running ones are left
  // alone. Prints one line per service to `out`. Throws ServiceError (e.g. binaries missing:
  // names the Debian package to install).
  void up(std::ostream& out);
  // Stops both; idempotent.
  void down(std::ostream& out);
  ServiceStatus postgres_status() const;
  ServiceStatus redis_status() const;

  // The recorded URL of a running embedded service, or nullopt when it was never started or is
  // not running. Used to resolve `url = "embedded"`.
  std::optional<std::string> postgres_url() const;
  std::optional<std::string> redis_url() const;

 private:
  std::string dir_;
};

}  // namespace puff::services
