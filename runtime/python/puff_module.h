// The built-in `puff` module, registered with PyImport_AppendInittab before Python starts.
// Other packages linked into the executable (the psycopg2 driver, the Redis client, ...) make
// attributes of it by name: puff.redis is django_puff.redis, imported on first use. So the
// runtime knows the mechanism, never the packages.
#pragma once

#include <string>

#include "python/compat.h"

namespace puff::python {

PyObject* init_puff_module();  // the module's PyInit function body

// puff.<attribute> resolves to `target`: "module" or "module:member", imported on first use.
// Call before the interpreter starts.
void expose_in_puff(std::string attribute, std::string target);

}  // namespace puff::python
