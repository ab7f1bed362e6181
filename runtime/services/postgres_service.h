// The embedded PostgreSQL: a private cluster under <services dir>/postgres (run as the `postgres`
// user when puff runs as root), on a loopback port and a private socket directory. Internal to
// the services component (Services in services.h runs both services).
#pragma once

#include <ostream>

#include "services/detail/layout.h"
#include "services/services.h"

namespace puff::services::detail {

// Creates the cluster the first time, starts it unless it already answers, and makes sure the
// `puff` database exists; records the port in `state`.
void postgres_up(const Paths& paths, State& state, std::ostream& out);
void postgres_down(const Paths& paths, std::ostream& out);
ServiceStatus postgres_status_of(const Paths& paths);

}  // namespace puff::services::detail
