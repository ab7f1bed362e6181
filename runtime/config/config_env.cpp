// The environment overlay: PUFF_* variables override puff.toml (and are overridden by flags).
#include <charconv>
#include <optional>

#include "config/config.h"
#include "config/detail.h"

extern char** environ;

namespace puff::config {

Environment process_environment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::size_t equals = text.find('=');
    if (equals != std::string_view::npos) {
      env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
    }
  }
  return env;
}

namespace detail {
namespace {

[[noreturn]] void fail_env(const std::string& variable, const std::string& message) {
  throw ConfigError(variable + ": " + message);
}

int env_int(const std::string& variable, const std::string& value, IntRange range) {
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size() || number < range.lo ||
      number > range.hi) {
    fail_env(variable, "must be an integer " + std::to_string(range.lo) + ".." +
                           std::to_string(range.hi) + ", got " + quote(value));
  }
  return static_cast<int>(number);
}

void env_string(const std::string& variable, const std::string& value,
                std::string (*check)(const std::string&), std::string& out) {
  std::string error = check(value);
  if (!error.empty()) fail_env(variable, error);
  out = value;
}

// PUFF_<NAME>_<KIND>_<SUFFIX>, e.g. PUFF_REPLICA_POSTGRES_URL.
struct PoolVariable {
  std::string_view kind;  // "POSTGRES" | "REDIS"
  std::string name;       // "REPLICA"; empty for PUFF_POSTGRES_...
  std::string suffix;     // "URL"
};

// Splits at the last "POSTGRES_" / "REDIS_" that starts a word, so that a pool may itself be
// called "redis" (PUFF_REDIS_POSTGRES_URL).
std::optional<PoolVariable> pool_variable(std::string_view variable) {
  std::string_view rest = variable.substr(5);  // after "PUFF_"
  std::optional<PoolVariable> found;
  std::size_t found_at = 0;
  for (std::string_view kind : {std::string_view("POSTGRES"), std::string_view("REDIS")}) {
    std::string marker = std::string(kind) + "_";
    for (std::size_t at = rest.find(marker); at != std::string_view::npos;
         at = rest.find(marker, at + 1)) {
      if ((at == 0 || rest[at - 1] == '_') && (!found || at > found_at)) {
        found = PoolVariable{kind, std::string(rest.substr(0, at == 0 ? 0 : at - 1)),
                             std::string(rest.substr(at + marker.size()))};
        found_at = at;
      }
    }
  }
  return found;
}

template <class Entry>
void set_pool_url(const std::string& variable, const PoolVariable& pool, const std::string& url,
                  std::string (*check_url)(const std::string&), std::vector<Entry>& entries) {
  Entry* entry = nullptr;
  for (Entry& candidate : entries) {
    if (env_name(candidate.name) == pool.name) entry = &candidate;
  }
  if (entry == nullptr) {
    Entry created;
    created.name = to_lower(pool.name);
    std::string error = check_entry_name(created.name);
    if (!error.empty()) fail_env(variable, error);
    entries.push_back(created);
    entry = &entries.back();
  }
  std::string error = check_url(url);
  if (!error.empty()) fail_env(variable, error);
  entry->url = url;
  entry->implicit = false;
}

void apply_pool_variable(Config& config, const std::string& variable, const PoolVariable& pool,
                         const std::string& value) {
  std::string wanted = "PUFF_" + (pool.name.empty() ? "DEFAULT" : pool.name) + "_" +
                       std::string(pool.kind) + "_URL";
  if (pool.name.empty() || pool.suffix != "URL") {
    fail_env(variable, "unknown variable; did you mean " + wanted + "? Only PUFF_<NAME>_" +
                           std::string(pool.kind) +
                           "_URL is read from the environment; set other options in puff.toml");
  }
  if (pool.kind == "POSTGRES") {
    set_pool_url(variable, pool, value, check_postgres_url, config.postgres);
  } else {
    set_pool_url(variable, pool, value, check_redis_url, config.redis);
  }
}

}  // namespace

void apply_environment(Config& config, const Environment& env) {
  for (const auto& [variable, value] : env) {
    if (variable.rfind("PUFF_", 0) != 0) continue;
    // An empty value counts as unset: env files and compose often pass VAR= for "no value".
    if (value.empty()) continue;
    if (variable == "PUFF_IO_THREADS") {
      config.runtime.io_threads = env_int(variable, value, kIoThreadsRange);
    } else if (variable == "PUFF_BLOCKING_THREADS") {
      config.runtime.blocking_threads = env_int(variable, value, kBlockingThreadsRange);
    } else if (variable == "PUFF_WATCHDOG_MS") {
      config.runtime.watchdog_ms = env_int(variable, value, kWatchdogMsRange);
    } else if (variable == "PUFF_WORKERS") {
      config.http.workers = env_int(variable, value, kWorkersRange);
    } else if (variable == "PUFF_LOG_LEVEL") {
      if (check_choice(value, kLogLevels).empty()) {
        config.runtime.log_level = value;
      } else {
        fail_env(variable, "must be one of " + join(kLogLevels) + ", got " + quote(value));
      }
    } else if (variable == "PUFF_DJANGO_SETTINGS") {
      env_string(variable, value, check_settings_module, config.django_settings);
    } else if (variable == "PUFF_WSGI") {
      env_string(variable, value, check_wsgi_target, config.wsgi);
    } else if (variable == "PUFF_BIND") {
      env_string(variable, value, check_bind, config.http.bind);
    } else if (auto pool = pool_variable(variable)) {
      // PUFF_POSTGRES_<X> with another X may belong to another tool; PUFF_POSTGRES_URL is ours.
      if (!pool->name.empty() || pool->suffix == "URL") {
        apply_pool_variable(config, variable, *pool, value);
      }
    }
    // Any other PUFF_* variable belongs to someone else (or to a later version): ignored.
  }
}

}  // namespace detail
}  // namespace puff::config
