#include "services/state_file.h"

#include <simdjson.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "services/services.h"

namespace puff::services {
namespace {

int port_field(const simdjson::dom::element& root, const char* key) {
  int64_t value = 0;
  if (root[key].get_int64().get(value) != simdjson::SUCCESS) return 0;
  return value > 0 && value < 65536 ? static_cast<int>(value) : 0;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

State read_state_file(const std::string& path) {
  // The DOM parser validates the whole document first: a truncated file is simply an error.
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.load(path).get(root) != simdjson::SUCCESS || !root.is_object()) return {};
  return State{port_field(root, "postgres_port"), port_field(root, "redis_port")};
}

void write_state_file(const std::string& path, const State& state, const StateFacts& facts) {
  std::string json = "{\n  \"postgres_port\": " + std::to_string(state.postgres_port) +
                     ",\n  \"postgres_url\": " + json_string(facts.postgres_url) +
                     ",\n  \"postgres_data\": " + json_string(facts.postgres_data) +
                     ",\n  \"redis_port\": " + std::to_string(state.redis_port) +
                     ",\n  \"redis_url\": " + json_string(facts.redis_url) +
                     ",\n  \"redis_dir\": " + json_string(facts.redis_dir) + "\n}\n";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json;
    if (!out.flush()) throw ServiceError("cannot write " + tmp + ": " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw ServiceError("cannot write " + path + ": " + ec.message());
}

}  // namespace puff::services
