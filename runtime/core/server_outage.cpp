#include "core/server_outage.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include "core/log.h"

namespace puff::core {

ServerOutage::ServerOutage(std::string subject, std::string requests)
    : subject_(std::move(subject)), requests_(std::move(requests)) {}

void ServerOutage::connect_failed(const std::string& error) {
  if (down_) return;
  down_ = true;
  since_ = Clock::now();
  failed_ = 0;
  // Connection errors often name the pool already ("Redis pool 'x' at h:p: refused"): once is
  // enough.
  const std::string prefix = subject_ + ": ";
  const std::string reason = error.rfind(prefix, 0) == 0 ? error.substr(prefix.size()) : error;
  log_warning(subject_, ever_connected_ ? " lost its server: " : " cannot connect: ", reason,
              ever_connected_ ? " (reconnecting)" : " (retrying)");
}

void ServerOutage::connected() {
  const bool was_down = std::exchange(down_, false);
  const bool first = !std::exchange(ever_connected_, true);
  if (!was_down) return;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f s",
                std::chrono::duration<double>(Clock::now() - since_).count());
  log_info(subject_, first ? " reached its server after " : " has its server back after ", seconds,
           "; ", requests_, " failed meanwhile: ", failed_);
}

}  // namespace puff::core
