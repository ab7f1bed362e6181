// [[postgres]], [[redis]] and [[commands]]: one table per named pool or command.
#include <map>
#include <utility>

#include "config/entries.h"

namespace puff::config::detail {
namespace {

constexpr std::array<std::string_view, 9> kPostgresKeys = {
    "name", "url", "min_size", "max_size", "acquire_timeout", "health_check_after",
    "connect_timeout", "statement_timeout", "reconnect_backoff_max"};
constexpr std::array<std::string_view, 6> kRedisKeys = {
    "name", "url", "pool_size", "connect_timeout", "command_timeout", "reconnect_backoff_max"};
constexpr std::array<std::string_view, 3> kCommandKeys = {"name", "function", "help"};

// The tables of the array `key` ([[key]]), empty when absent.
std::vector<const toml::table*> tables_of(const TableReader& root, const toml::table& document,
                                          std::string_view key) {
  std::vector<const toml::table*> tables;
  const toml::node* node = document.get(key);
  if (node == nullptr) return tables;
  std::string hint = "; write [[" + std::string(key) + "]] (double brackets), once per entry";
  if (!node->is_array()) {
    root.fail(key, " must be an array of tables, got " + std::string(type_name(*node)) + hint);
  }
  for (const toml::node& item : *node->as_array()) {
    if (!item.is_table()) {
      std::uint32_t line = item.source().begin.line;
      root.fail_line(line != 0 ? line : root.line(key),
                     std::string(key) + " must be an array of tables, got " +
                         a_type_name(item) + " element" + hint);
    }
    tables.push_back(item.as_table());
  }
  return tables;
}

// Names seen so far in one array. Pool names that differ only in '-' vs '_' would share one
// PUFF_<NAME>_..._URL variable, so they count as duplicates too.
class UniqueNames {
 public:
  explicit UniqueNames(std::string kind) : kind_(std::move(kind)) {}

  void add(const TableReader& entry, const std::string& name) {
    std::uint32_t line = entry.line("name");
    auto [it, inserted] = seen_.try_emplace(env_name(name), name, line);
    if (inserted) return;
    const auto& [other, other_line] = it->second;
    std::string where = "line " + std::to_string(other_line);
    if (other == name) {
      entry.fail("name", ": " + quote(name) + " is already used at " + where +
                             "; give each [[" + kind_ + "]] a unique name");
    }
    entry.fail("name", ": " + quote(name) + " clashes with " + quote(other) + " at " + where +
                           " (both map to PUFF_" + env_name(name) +
                           "_..._URL); give each [[" + kind_ + "]] a distinct name");
  }

 private:
  std::string kind_;
  std::map<std::string, std::pair<std::string, std::uint32_t>> seen_;
};

PostgresConfig read_postgres(const TableReader& entry) {
  PostgresConfig pg;
  entry.read_string("name", pg.name, check_entry_name);
  entry.read_string("url", pg.url, check_postgres_url);
  entry.read_int("max_size", pg.max_size, {1, 10000});
  entry.read_int("min_size", pg.min_size, {0, 10000});
  if (pg.min_size > pg.max_size) {
    entry.fail("min_size", " = " + std::to_string(pg.min_size) + " is larger than max_size = " +
                               std::to_string(pg.max_size) + "; allowed: 0..max_size");
  }
  entry.read_seconds("acquire_timeout", pg.acquire_timeout_s, false);
  entry.read_seconds("health_check_after", pg.health_check_after_s, true);  // 0: always check
  entry.read_seconds("connect_timeout", pg.connect_timeout_s, false);
  entry.read_seconds("statement_timeout", pg.statement_timeout_s, true);  // 0: none
  entry.read_seconds("reconnect_backoff_max", pg.reconnect_backoff_max_s, false);
  return pg;
}

RedisConfig read_redis(const TableReader& entry) {
  RedisConfig redis;
  entry.read_string("name", redis.name, check_entry_name);
  entry.read_string("url", redis.url, check_redis_url);
  entry.read_int("pool_size", redis.pool_size, {1, 1024});
  entry.read_seconds("connect_timeout", redis.connect_timeout_s, false);
  entry.read_seconds("command_timeout", redis.command_timeout_s, false);
  entry.read_seconds("reconnect_backoff_max", redis.reconnect_backoff_max_s, false);
  return redis;
}

CommandConfig read_command(const TableReader& entry) {
  for (std::string_view required : {"name", "function"}) {
    if (!entry.has(required)) {
      entry.fail_line(entry.table_line(),
                      "[[commands]] has no " + std::string(required) +
                          "; each command needs name = \"...\" and function = \"module:function\"");
    }
  }
  CommandConfig command;
  entry.read_string("name", command.name, check_command_name);
  entry.read_string("function", command.function, check_function_ref);
  entry.read_string("help", command.help);
  return command;
}

}  // namespace

void read_entries(const TableReader& root, const toml::table& document, Config& config) {
  UniqueNames postgres_names("postgres");
  for (const toml::table* table : tables_of(root, document, "postgres")) {
    TableReader entry(root.file(), *table, "[[postgres]]", kPostgresKeys);
    config.postgres.push_back(read_postgres(entry));
    postgres_names.add(entry, config.postgres.back().name);
  }
  UniqueNames redis_names("redis");
  for (const toml::table* table : tables_of(root, document, "redis")) {
    TableReader entry(root.file(), *table, "[[redis]]", kRedisKeys);
    config.redis.push_back(read_redis(entry));
    redis_names.add(entry, config.redis.back().name);
  }
  UniqueNames command_names("commands");
  for (const toml::table* table : tables_of(root, document, "commands")) {
    TableReader entry(root.file(), *table, "[[commands]]", kCommandKeys);
    config.commands.push_back(read_command(entry));
    command_names.add(entry, config.commands.back().name);
  }
}

}  // namespace puff::config::detail
