// <services dir>/services.json: the ports (and, for people and other tools, the URLs) of the
// embedded services, so later commands find them and `url = "embedded"` resolves.
#pragma once

#include <string>

namespace puff::services {

struct State {
  int postgres_port = 0;  // 0: not created yet
  int redis_port = 0;
};

struct StateFacts {  // written beside the ports, for readers; never read back
  std::string postgres_url, postgres_data, redis_url, redis_dir;
};

// A missing or corrupt file reads as an empty State (the services then look "not created").
State read_state_file(const std::string& path);
// Writes atomically (temp file + rename); throws ServiceError on failure.
void write_state_file(const std::string& path, const State& state, const StateFacts& facts);

}  // namespace puff::services
