#include "services/detail/layout.h"

#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "services/services.h"

namespace puff::services::detail {
namespace fs = std::filesystem;

std::string postgres_url_for(int port) {
  return "postgresql://puff@127.0.0.1:" + std::to_string(port) + "/puff";
}
std::string redis_url_for(int port) { return "redis://127.0.0.1:" + std::to_string(port) + "/0"; }

State read_state(const Paths& paths) { return read_state_file(paths.state_file().string()); }

void write_state(const Paths& paths, const State& state) {
  StateFacts facts;
  facts.postgres_url = state.postgres_port ? postgres_url_for(state.postgres_port) : "";
  facts.postgres_data = paths.data().string();
  facts.redis_url = state.redis_port ? redis_url_for(state.redis_port) : "";
  facts.redis_dir = paths.redis_dir().string();
  write_state_file(paths.state_file().string(), state, facts);
}

void make_dirs(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw ServiceError("cannot create " + path.string() + ": " + ec.message());
}

void chown_to(const fs::path& path, const std::optional<Account>& account) {
  if (!account) return;
  if (::chown(path.c_str(), account->uid, account->gid) != 0) {
    throw ServiceError("cannot give " + path.string() + " to user " + account->name + ": " +
                       std::strerror(errno));
  }
}

bool socket_path_fits(const fs::path& dir, const std::string& name) {
  return (dir / name).string().size() < sizeof(sockaddr_un{}.sun_path);
}

}  // namespace puff::services::detail
