// The module's two types: Pool (a handle on a process-shared redis::Pool, see
// redis/pool_registry.h) and Dedicated (a connection of its own, for MULTI/WATCH/blocking
// commands). Python-facing: GIL held; the add_* functions throw ErrorAlreadySet.
#pragma once

#include "python/pyref.h"
#include "redis/pool.h"

namespace puff::redis_client {

void add_pool_type(PyObject* module);
void add_dedicated_type(PyObject* module);

// A new Dedicated object owning `lease` (used by Pool.dedicated()). Throws ErrorAlreadySet
// (the lease then goes back to its pool).
PyObject* new_dedicated(redis::Dedicated lease);

}  // namespace puff::redis_client
