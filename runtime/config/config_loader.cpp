// Finding and reading puff.toml: the top level, [runtime], [http] and [services]. The pool and
// command entries are read in config_entries.cpp.
#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "config/config.h"
#include "config/entries.h"
#include "config/table_reader.h"

namespace puff::config {
namespace {

namespace fs = std::filesystem;
using detail::LineString;
using detail::TableReader;

constexpr std::array<std::string_view, 9> kTopKeys = {
    "project_dir", "django_settings", "wsgi", "runtime", "http", "services",
    "postgres", "redis", "commands"};
constexpr std::array<std::string_view, 4> kRuntimeKeys = {"io_threads", "blocking_threads",
                                                          "watchdog_ms", "log_level"};
constexpr std::array<std::string_view, 19> kHttpKeys = {
    "bind", "workers", "reload", "static", "max_header_bytes", "max_header_fields",
    "max_body_bytes", "body_buffer_bytes", "min_body_rate",
    "request_timeout", "keepalive_timeout", "idle_timeout", "header_timeout",
    "graceful_timeout", "max_connections", "pipeline_depth",
    "max_active_requests", "access_log", "trusted_proxies"};
constexpr std::array<std::string_view, 1> kServicesKeys = {"dir"};

std::string check_not_empty(const std::string& text) {
  return text.empty() ? "must not be empty; give a path" : "";
}

// The table under `key`, or null when absent. [[runtime]] instead of [runtime] is a type error.
const toml::table* section(const TableReader& root, const toml::table& table,
                           std::string_view key) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) {
    root.fail(key, " must be a table, got " + std::string(detail::type_name(*node)) +
                       "; write [" + std::string(key) + "] (single brackets) and its keys below");
  }
  return node->as_table();
}

void read_runtime(const std::string& file, const toml::table& table, RuntimeConfig& runtime) {
  TableReader reader(file, table, "[runtime]", kRuntimeKeys);
  reader.read_int("io_threads", runtime.io_threads, detail::kIoThreadsRange);
  reader.read_int("blocking_threads", runtime.blocking_threads, detail::kBlockingThreadsRange);
  reader.read_int("watchdog_ms", runtime.watchdog_ms, detail::kWatchdogMsRange);
  reader.read_choice("log_level", runtime.log_level, detail::kLogLevels);
}

// "URL=DIR" entries: "/static/=static" serves <project_dir>/static under /static/.
void read_static(const TableReader& reader, const std::string& project_dir, HttpConfig& http) {
  std::vector<LineString> items;
  if (!reader.read_strings("static", items)) return;
  const std::string example = "; e.g. \"/static/=static\"";
  std::vector<StaticMount> mounts;
  for (const LineString& item : items) {
    auto fail = [&](const std::string& message) {
      std::string line = reader.name("static");
      line.append(": ").append(message).append(example);
      reader.fail_line(item.line, line);
    };
    std::size_t equals = item.value.find('=');
    if (equals == std::string::npos) fail(detail::quote(item.value) + " is not \"URL=DIR\"");
    StaticMount mount{item.value.substr(0, equals), item.value.substr(equals + 1)};
    if (mount.url_prefix.empty() || mount.url_prefix[0] != '/') {
      fail("URL " + detail::quote(mount.url_prefix) + " must start with \"/\"");
    }
    if (mount.directory.empty()) fail(detail::quote(item.value) + " has an empty directory");
    // "/static" mounts the same tree as "/static/" and must not match "/staticfoo".
    if (mount.url_prefix.back() != '/') mount.url_prefix += '/';
    for (const StaticMount& other : mounts) {
      if (other.url_prefix == mount.url_prefix) {
        fail("URL " + detail::quote(mount.url_prefix) + " is mounted twice");
      }
    }
    mount.directory = detail::resolve_path(project_dir, mount.directory);
    mounts.push_back(std::move(mount));
  }
  http.static_mounts = std::move(mounts);
}

void read_http(const std::string& file, const toml::table& table, const std::string& project_dir,
               HttpConfig& http) {
  TableReader reader(file, table, "[http]", kHttpKeys);
  reader.read_string("bind", http.bind, check_bind);
  reader.read_int("workers", http.workers, detail::kWorkersRange);
  reader.read_bool("reload", http.reload);
  read_static(reader, project_dir, http);
  reader.read_int64("max_header_bytes", http.max_header_bytes, {1024, 16 << 20});
  reader.read_int("max_header_fields", http.max_header_fields, {1, 65536});
  reader.read_int64("max_body_bytes", http.max_body_bytes, {1, std::int64_t{1} << 40});
  reader.read_int64("body_buffer_bytes", http.body_buffer_bytes, {0, std::int64_t{1} << 30});
  reader.read_int("min_body_rate", http.min_body_rate, {0, 1 << 30});
  reader.read_seconds("request_timeout", http.request_timeout_s, false);
  reader.read_seconds("keepalive_timeout", http.keepalive_timeout_s, false);
  reader.read_seconds("idle_timeout", http.idle_timeout_s, false);
  reader.read_seconds("header_timeout", http.header_timeout_s, false);
  reader.read_seconds("graceful_timeout", http.graceful_timeout_s, true);  // 0: no drain
  reader.read_int("max_connections", http.max_connections, {1, 1000000});
  reader.read_int("pipeline_depth", http.pipeline_depth, {1, 1024});
  reader.read_int("max_active_requests", http.max_active_requests, {0, 1000000});
  reader.read_choice("access_log", http.access_log, detail::kAccessLogFormats);
  std::vector<LineString> proxies;
  if (reader.read_strings("trusted_proxies", proxies)) {
    http.trusted_proxies.clear();
    for (const LineString& proxy : proxies) {
      std::string error = detail::check_proxy_address(proxy.value);
      if (!error.empty()) {
        reader.fail_line(proxy.line, reader.name("trusted_proxies") + ": " + error);
      }
      http.trusted_proxies.push_back(proxy.value);
    }
  }
}

// project_dir is relative to the config file's directory and must exist.
void read_project_dir(const TableReader& root, const std::string& file_dir, Config& config) {
  std::string written;
  if (!root.read_string("project_dir", written, check_not_empty)) return;
  std::string resolved = detail::resolve_path(file_dir, written);
  std::error_code error;
  if (!fs::is_directory(resolved, error)) {
    root.fail("project_dir", ": " + detail::quote(written) + " (" + resolved +
                                 ") is not a directory; give a directory relative to " + file_dir);
  }
  config.project_dir = resolved;
}

void read_document(const std::string& file, const toml::table& document, Config& config) {
  TableReader root(file, document, "", kTopKeys);
  read_project_dir(root, config.project_dir, config);
  root.read_string("django_settings", config.django_settings, detail::check_settings_module);
  root.read_string("wsgi", config.wsgi, detail::check_wsgi_target);
  if (const toml::table* table = section(root, document, "runtime")) {
    read_runtime(file, *table, config.runtime);
  }
  if (const toml::table* table = section(root, document, "http")) {
    read_http(file, *table, config.project_dir, config.http);
  }
  if (const toml::table* table = section(root, document, "services")) {
    TableReader reader(file, *table, "[services]", kServicesKeys);
    reader.read_string("dir", config.services.dir, check_not_empty);
  }
  detail::read_entries(root, document, config);
}

// Reads and parses `path`; `file` is how messages name it.
toml::table parse_file(const std::string& path, const std::string& file) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(file + ": cannot read the config file; check its permissions");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return toml::parse(text.str(), file);
  } catch (const toml::parse_error& error) {
    detail::fail_at(file, error.source().begin.line,
                    std::string(error.description()) + "; puff.toml must be valid TOML (toml.io)");
  }
}

}  // namespace

Config load(const std::string& path, const std::string& cwd, const Environment& env) {
  // The process's directory only when needed: it may have been removed under us.
  bool relative = cwd.empty() || cwd[0] != '/';
  std::string base = detail::resolve_path(relative ? fs::current_path().string() : "/", cwd);
  std::string file;  // how messages name the file: as the user gave it
  std::string resolved;
  std::error_code error;
  if (!path.empty()) {
    file = path;
    resolved = detail::resolve_path(base, path);
    if (!fs::exists(resolved, error)) throw ConfigError(path + ": config file not found");
    if (fs::is_directory(resolved, error)) {
      throw ConfigError(path + ": is a directory; give the path of a puff.toml file");
    }
  } else if (fs::is_regular_file(base + "/puff.toml", error)) {
    file = "puff.toml";
    resolved = base + "/puff.toml";
  }

  Config config;
  config.project_dir = base;
  if (!resolved.empty()) {
    config.source_path = resolved;
    config.project_dir = fs::path(resolved).parent_path().string();
    read_document(file, parse_file(resolved, file), config);
  }
  config.services.dir = detail::resolve_path(config.project_dir, config.services.dir);
  detail::apply_environment(config, env);
  detail::ensure_default_entries(config);
  return config;
}

}  // namespace puff::config
