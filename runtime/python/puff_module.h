// The built-in `puff` module, registered with PyImport_AppendInittab before Python starts.
#pragma once

#include "python/compat.h"

namespace puff::python {

PyObject* init_puff_module();  // the module's PyInit function body

}  // namespace puff::python
