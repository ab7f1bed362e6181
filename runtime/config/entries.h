// Reading the [[postgres]], [[redis]] and [[commands]] arrays of tables (config_entries.cpp).
#pragma once

#include <toml++/toml.h>

#include "config/config.h"
#include "config/table_reader.h"

namespace puff::config::detail {

// Reads every entry of the three arrays in `document` into `config`, checking names for
// duplicates. `root` is the reader of the top-level table (for file names and messages).
void read_entries(const TableReader& root, const toml::table& document, Config& config);

}  // namespace puff::config::detail
