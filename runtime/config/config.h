// The runtime's configuration: puff.toml < environment < command-line flags (later wins).
// Pure C++ (no Python). Every section is parsed and validated here, including those that later
// components use, so a typo fails at start-up with file:line instead of at first use.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace puff::config {

// A user's mistake in the configuration. what() is one line: "<where>: <what was wrong>; <what
// is allowed>". `where` is "puff.toml:12" for the file, "PUFF_DEFAULT_POSTGRES_URL" for the
// environment, "--io-threads" for a flag. The CLI prints it and exits with code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The literal URL that means "the embedded dev service started by `puff services up`".
inline constexpr const char* kEmbeddedUrl = "embedded";

struct PostgresConfig {
  std::string name = "default";
  std::string url = kEmbeddedUrl;  // "embedded", a postgres[ql]:// URI or a libpq key=value string
  int min_size = 1;
  int max_size = 10;
  double acquire_timeout_s = 10.0;       // wait for a free connection before OperationalError
  double health_check_after_s = 30.0;    // check a connection on checkout after this idle time
  double connect_timeout_s = 10.0;
  double statement_timeout_s = 0.0;      // 0 = none
  double reconnect_backoff_max_s = 10.0;
  bool implicit = false;                 // not written by the user: the default "default" entry
};

struct RedisConfig {
  std::string name = "default";
  std::string url = kEmbeddedUrl;  // "embedded", redis://, rediss://, unix:///path?db=N
  int pool_size = 4;
  double connect_timeout_s = 5.0;
  double command_timeout_s = 5.0;
  double reconnect_backoff_max_s = 10.0;
  bool implicit = false;
};

struct RuntimeConfig {
  int io_threads = 0;                  // 0 = cores - 1 (the hub has one), at least 1
  int blocking_threads = 16;           // bounded pool behind @puff.blocking / run_blocking
  int watchdog_ms = 200;               // hub stall warning threshold; 0 disables the watchdog
  std::string log_level = "info";      // debug | info | warning | error
};

struct StaticMount {
  std::string url_prefix;  // "/static/"
  std::string directory;   // resolved against the project directory
};

struct HttpConfig {
  std::string bind = "127.0.0.1:8000";  // HOST:PORT, [IPv6]:PORT or unix:PATH
  int workers = 1;
  bool reload = false;
  std::vector<StaticMount> static_mounts;
  std::int64_t max_header_bytes = 64 * 1024;
  int max_header_fields = 100;  // header field lines per request (a flood of names costs CPU)
  std::int64_t max_body_bytes = 100 * 1024 * 1024;
  // Read ahead before the application runs: a slow client holds a buffer, not a request slot.
  std::int64_t body_buffer_bytes = 1024 * 1024;
  int min_body_rate = 1024;  // bytes/s a request body must keep up over 10 s (else 408); 0: off
  double request_timeout_s = 60.0;
  double keepalive_timeout_s = 5.0;
  double idle_timeout_s = 60.0;
  double header_timeout_s = 10.0;       // slowloris guard: whole header must arrive in this time
  double graceful_timeout_s = 30.0;     // SIGTERM / SIGHUP drain limit
  int max_connections = 10000;
  int pipeline_depth = 16;
  // Request greenlets running at once per worker; more requests wait, parsed, until one ends
  // (0: no limit). Past the database pool's size, more only queue for it at a higher cost.
  int max_active_requests = 40;
  std::string access_log = "common";    // common | json | off
  std::vector<std::string> trusted_proxies;  // addresses whose X-Forwarded-* headers are trusted
};

struct ServicesConfig {
  std::string dir = ".puff";  // load() makes it absolute, resolved against the project directory
};

// `[[commands]]`: a named entry point that appears as `puff <name> [ARGS]`.
struct CommandConfig {
  std::string name;
  std::string function;  // "module:function", run like `puff python`
  std::string help;
};

struct Config {
  std::string source_path;   // the file read, empty when none
  std::string project_dir;   // absolute; config file's directory (or cwd), overridable
  std::string django_settings;  // DJANGO_SETTINGS_MODULE for `puff django` / runserver
  std::string wsgi;             // "module.path.application" for `puff runserver`
  RuntimeConfig runtime;
  HttpConfig http;
  ServicesConfig services;
  std::vector<PostgresConfig> postgres;  // always holds a "default" entry (implicit if unwritten)
  std::vector<RedisConfig> redis;        // always holds a "default" entry (implicit if unwritten)
  std::vector<CommandConfig> commands;

  const PostgresConfig* find_postgres(const std::string& name) const;
  const RedisConfig* find_redis(const std::string& name) const;
};

// Names of environment variables, injected for tests. Production passes the process environment.
using Environment = std::map<std::string, std::string>;
Environment process_environment();

// Reads `path` (must exist) or, when `path` is empty, ./puff.toml in `cwd` if present, else the
// defaults. Then applies the environment overlay:
//   PUFF_<NAME>_POSTGRES_URL, PUFF_<NAME>_REDIS_URL   (NAME upper-cased; creates the entry if new)
//   PUFF_IO_THREADS, PUFF_BLOCKING_THREADS, PUFF_WATCHDOG_MS, PUFF_LOG_LEVEL,
//   PUFF_DJANGO_SETTINGS, PUFF_WSGI, PUFF_BIND, PUFF_WORKERS
// Throws ConfigError for: TOML syntax errors, unknown keys, wrong value types, out-of-range
// values, duplicate names, bad URLs (postgres checked with libpq's PQconninfoParse), bad env.
Config load(const std::string& path, const std::string& cwd, const Environment& env);

// Validates a Postgres URL / conninfo; returns an error message or empty when valid.
std::string check_postgres_url(const std::string& url);
// Validates a Redis URL with redis::parse_url (the parser the redis component connects with);
// returns "" when valid or "embedded", else a one-line message without the password.
std::string check_redis_url(const std::string& url);

// Validates a listen address: HOST:PORT, [IPv6]:PORT (port 0..65535) or unix:/absolute/path.
// Returns an error message or empty when valid (the CLI uses it for --bind).
std::string check_bind(const std::string& bind);

// Validates a trusted proxy: an IP address or CIDR range. "" when valid (the CLI uses it for
// --trusted-proxy).
std::string check_trusted_proxy(const std::string& address);

// A complete, commented puff.toml showing every key with its default. Must load without error.
const char* example_config();

}  // namespace puff::config
