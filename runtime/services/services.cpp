// Services runs the embedded PostgreSQL (postgres_service.cpp) and Redis (redis_service.cpp)
// together; services.json (detail/layout.cpp) records where they listen.
#include "services/services.h"

#include <filesystem>

#include "services/detail/layout.h"
#include "services/postgres_service.h"
#include "services/redis_service.h"

namespace puff::services {
namespace fs = std::filesystem;
using detail::Paths;
using detail::read_state;
using detail::write_state;

Services::Services(std::string dir) : dir_(std::move(dir)) {}

void Services::up(std::ostream& out) {
  Paths paths{fs::absolute(dir_)};
  detail::make_dirs(paths.dir);
  State state = read_state(paths);
  try {
    detail::postgres_up(paths, state, out);
    detail::redis_up(paths, state, out);
  } catch (...) {
    try {
      write_state(paths, state);  // keep what did start findable by `down`/`status`
    } catch (const ServiceError&) {
    }
    throw;
  }
  write_state(paths, state);
}

void Services::down(std::ostream& out) {
  Paths paths{fs::absolute(dir_)};
  std::error_code ec;
  if (!fs::exists(paths.dir, ec)) {
    out << "postgres: not created\nredis: not created\n";
    return;
  }
  // Stop both even when the first fails; report the first failure.
  std::string first_error;
  try {
    detail::postgres_down(paths, out);
  } catch (const ServiceError& e) {
    first_error = e.what();
  }
  try {
    detail::redis_down(paths, out);
  } catch (const ServiceError& e) {
    if (first_error.empty()) first_error = e.what();
  }
  if (!first_error.empty()) throw ServiceError(first_error);
}

ServiceStatus Services::postgres_status() const {
  return detail::postgres_status_of(Paths{fs::absolute(dir_)});
}

ServiceStatus Services::redis_status() const {
  return detail::redis_status_of(Paths{fs::absolute(dir_)});
}

std::optional<std::string> Services::postgres_url() const {
  ServiceStatus st = postgres_status();
  if (!st.running) return std::nullopt;
  return st.url;
}

std::optional<std::string> Services::redis_url() const {
  ServiceStatus st = redis_status();
  if (!st.running) return std::nullopt;
  return st.url;
}

}  // namespace puff::services
