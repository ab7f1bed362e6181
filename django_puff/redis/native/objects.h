// The module's two types: Pool (a handle on a process-shared redis::Pool, see
// redis/pool_registry.h) and Dedicated (a connection of its own, for MULTI/WATCH/blocking
// commands). Python-facing: GIL held.
#pragma once

#include "python/pyref.h"
#include "redis/pool.h"

namespace puff::python::redis_client {

bool add_pool_type(PyObject* module);
bool add_dedicated_type(PyObject* module);

// Creates *type from spec on first use (the extension may be imported again), then adds it to
// `module` as `name`. false with a Python exception set.
bool add_type(PyObject* module, const char* name, PyType_Spec* spec, PyTypeObject** type);

// A new Dedicated object owning `lease` (used by Pool.dedicated()); nullptr on failure (the
// lease goes back to its pool).
PyObject* new_dedicated(redis::Dedicated lease);

}  // namespace puff::python::redis_client
