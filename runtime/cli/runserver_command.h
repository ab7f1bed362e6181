// `puff runserver`: the production HTTP/1.1 WSGI server (runtime/http + runtime/wsgi).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/python_runner.h"

namespace puff::cli {

// Flags override [http] in puff.toml and the environment (PUFF_BIND, PUFF_WSGI).
struct RunserverFlags {
  std::string bind;
  std::string wsgi;
  std::string access_log;
  std::optional<int> workers;
  bool reload = false;
  std::vector<std::string> static_mounts;  // "URL=DIR", repeatable
  std::vector<std::string> trusted_proxies;  // replaces [http] trusted_proxies
  std::optional<int> max_connections;
  std::optional<int> pipeline_depth;
  std::optional<int> max_active_requests;
  std::optional<std::int64_t> max_header_bytes;
  std::optional<int> max_header_fields;
  std::optional<std::int64_t> max_body_bytes;
  std::optional<std::int64_t> body_buffer_bytes;
  std::optional<int> min_body_rate;
  std::optional<double> header_timeout;
  std::optional<double> keepalive_timeout;
  std::optional<double> idle_timeout;
  std::optional<double> request_timeout;
  std::optional<double> graceful_timeout;
};

CLI::App* add_runserver_command(CLI::App& app, RunserverFlags& flags);
int run_runserver(const RunContext& context, const RunserverFlags& flags);

}  // namespace puff::cli
