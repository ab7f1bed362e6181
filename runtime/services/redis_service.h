// The embedded Redis: a private redis-server under <services dir>/redis, on a loopback port and
// a unix socket. Internal to the services component (Services in services.h runs both services).
#pragma once

#include <ostream>

#include "services/detail/layout.h"
#include "services/services.h"

namespace puff::services::detail {

// Starts redis-server unless it already answers; records its port in `state`.
void redis_up(const Paths& paths, State& state, std::ostream& out);
void redis_down(const Paths& paths, std::ostream& out);
ServiceStatus redis_status_of(const Paths& paths);

}  // namespace puff::services::detail
