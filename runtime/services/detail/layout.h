// Where the embedded services keep their files under the services directory (.puff/), and
// services.json, which records their ports so later commands find them. Internal to the
// services component (services.h is its interface).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "services/process.h"
#include "services/state_file.h"

namespace puff::services::detail {

struct Paths {
  std::filesystem::path dir;
  std::filesystem::path state_file() const { return dir / "services.json"; }
  std::filesystem::path postgres_link() const { return dir / "postgres"; }
  // The cluster's real location: <dir>/postgres, or where that symlink points.
  std::filesystem::path postgres_root() const {
    std::error_code ec;
    std::filesystem::path root = std::filesystem::canonical(postgres_link(), ec);
    return ec ? postgres_link() : root;
  }
  std::filesystem::path data() const { return postgres_root() / "data"; }
  std::filesystem::path pg_run() const { return postgres_root() / "run"; }
  std::filesystem::path pg_log() const { return postgres_root() / "postgres.log"; }
  std::filesystem::path postmaster_pid() const { return data() / "postmaster.pid"; }
  std::filesystem::path redis_dir() const { return dir / "redis"; }
  std::filesystem::path redis_socket() const { return redis_dir() / "redis.sock"; }
  std::filesystem::path redis_pid() const { return redis_dir() / "redis.pid"; }
  std::filesystem::path redis_log() const { return redis_dir() / "redis.log"; }
};

std::string postgres_url_for(int port);
std::string redis_url_for(int port);

State read_state(const Paths& paths);
// Throws ServiceError when the file cannot be written.
void write_state(const Paths& paths, const State& state);

// Throw ServiceError saying which path failed.
void make_dirs(const std::filesystem::path& path);
void chown_to(const std::filesystem::path& path, const std::optional<Account>& account);

// Whether "<dir>/<name>" fits in sockaddr_un.sun_path.
bool socket_path_fits(const std::filesystem::path& dir, const std::string& name);

}  // namespace puff::services::detail
