// django_puff as a package of the `puff` executable (runtime/cli/packages.h): the Redis client's
// built-in module (django_puff._redis, with puff.toml's [[redis]] entries), puff.redis, and the
// Django commands `puff django`, `puff pytest` and `puff init`.
#pragma once

#include "cli/packages.h"

namespace puff::django_puff {

cli::Package package();

cli::Command django_command();
cli::Command pytest_command();
cli::Command init_command();

}  // namespace puff::django_puff
