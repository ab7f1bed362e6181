// Finding a Python callable named on the command line or in puff.toml (`puff python`,
// [[commands]], `puff runserver --wsgi`).
#pragma once

#include <string>

#include "python/pyref.h"

namespace puff::python {

// Imports `module_name` and looks up `attribute` (dotted attributes allowed). A missing module
// or attribute, or a value that is not callable, is one line on stderr starting with `label`;
// an error raised while importing the module is printed as the user's traceback. Returns an
// empty PyRef (no exception left set) on failure. GIL held.
PyRef resolve_callable(const std::string& label, const std::string& module_name,
                       const std::string& attribute);

}  // namespace puff::python
