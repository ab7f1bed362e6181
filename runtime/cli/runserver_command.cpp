// `puff runserver`: finds the WSGI application (--wsgi, puff.toml's `wsgi`, or the Django
// project of DJANGO_SETTINGS_MODULE / django_settings), loads it before the hub starts, then
// runs _puff_wsgi:serve as the main task (runtime/wsgi/serve.cpp).
#include "cli/runserver_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/runserver_workers.h"
#include "config/config.h"
#include "http/access_log.h"
#include "http/listener.h"
#include "wsgi/serve.h"

namespace puff::cli {
namespace {

constexpr const char* kLabel = "puff runserver";

// Applies the flags to [http]; "" or the message naming the flag.
std::string apply_flags(const RunserverFlags& flags, const std::string& project_dir,
                        config::HttpConfig& http) {
  if (!flags.bind.empty()) {
    std::string problem = config::check_bind(flags.bind);
    if (!problem.empty()) return "--bind: " + problem;
    http.bind = flags.bind;
  }
  if (flags.reload) http.reload = true;
  for (const std::string& item : flags.static_mounts) {
    auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0 || item[0] != '/' || equals + 1 == item.size()) {
      return "--static: expected URL=DIR with URL starting with \"/\" (e.g. /static/=static), "
             "got \"" + item + "\"";
    }
    config::StaticMount mount{item.substr(0, equals), item.substr(equals + 1)};
    if (mount.url_prefix.back() != '/') mount.url_prefix += '/';
    if (mount.directory[0] != '/') mount.directory = project_dir + "/" + mount.directory;
    http.static_mounts.push_back(std::move(mount));
  }
  if (!flags.trusted_proxies.empty()) {
    for (const std::string& proxy : flags.trusted_proxies) {
      std::string problem = config::check_trusted_proxy(proxy);
      if (!problem.empty()) return "--trusted-proxy: " + problem;
    }
    http.trusted_proxies = flags.trusted_proxies;
  }
  for (const config::StaticMount& mount : http.static_mounts) {
    struct stat info {};
    if (::stat(mount.directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      return "static " + mount.url_prefix + ": " + mount.directory +
             " is not a directory (create it; for Django's STATIC_ROOT run `puff django "
             "collectstatic`)";
    }
  }
  if (!flags.access_log.empty()) {
    if (flags.access_log != "common" && flags.access_log != "json" && flags.access_log != "off") {
      return "--access-log: must be one of common, json, off; got \"" + flags.access_log + "\"";
    }
    http.access_log = flags.access_log;
  }
  auto whole = [](const char* flag, auto value, auto low, auto high, auto& out) -> std::string {
    if (!value) return "";
    if (*value < low || *value > high) {
      return std::string(flag) + ": must be " + std::to_string(low) + ".." +
             std::to_string(high) + ", got " + std::to_string(*value);
    }
    out = *value;
    return "";
  };
  auto seconds = [](const char* flag, std::optional<double> value, bool allow_zero,
                    double& out) -> std::string {
    if (!value) return "";
    if (!(allow_zero ? *value >= 0 : *value > 0) || *value > 1e6) {
      return std::string(flag) + ": must be a number of seconds " +
             (allow_zero ? ">= 0" : "> 0") + ", got " + std::to_string(*value);
    }
    out = *value;
    return "";
  };
  for (const std::string& problem :
       {whole("--workers", flags.workers, 1, 256, http.workers),
        whole("--max-connections", flags.max_connections, 1, 1000000, http.max_connections),
        whole("--pipeline-depth", flags.pipeline_depth, 1, 1024, http.pipeline_depth),
        whole("--max-active-requests", flags.max_active_requests, 0, 1000000,
              http.max_active_requests),
        whole("--max-header-bytes", flags.max_header_bytes, std::int64_t{1024},
              std::int64_t{16 << 20}, http.max_header_bytes),
        whole("--max-header-fields", flags.max_header_fields, 1, 65536, http.max_header_fields),
        whole("--max-body-bytes", flags.max_body_bytes, std::int64_t{1}, std::int64_t{1} << 40,
              http.max_body_bytes),
        whole("--body-buffer-bytes", flags.body_buffer_bytes, std::int64_t{0},
              std::int64_t{1} << 30, http.body_buffer_bytes),
        whole("--min-body-rate", flags.min_body_rate, 0, 1 << 30, http.min_body_rate),
        seconds("--header-timeout", flags.header_timeout, false, http.header_timeout_s),
        seconds("--keepalive-timeout", flags.keepalive_timeout, false, http.keepalive_timeout_s),
        seconds("--idle-timeout", flags.idle_timeout, false, http.idle_timeout_s),
        seconds("--request-timeout", flags.request_timeout, false, http.request_timeout_s),
        seconds("--graceful-timeout", flags.graceful_timeout, true, http.graceful_timeout_s)}) {
    if (!problem.empty()) return problem;
  }
  return "";
}

}  // namespace

CLI::App* add_runserver_command(CLI::App& app, RunserverFlags& flags) {
  auto* command = app.add_subcommand(
      "runserver", "Serve the WSGI application over HTTP/1.1 (every request a greenlet)");
  command->add_option("--bind", flags.bind, "HOST:PORT, [IPv6]:PORT or unix:PATH (default "
                                            "127.0.0.1:8000)");
  command->add_option("--wsgi", flags.wsgi,
                      "the application, MODULE:APP or module.path.app (default: puff.toml's "
                      "wsgi, else the Django project of DJANGO_SETTINGS_MODULE)");
  command->add_option("--workers", flags.workers,
                      "worker processes accepting on one socket, under a supervisor");
  command->add_flag("--reload", flags.reload,
                    "development: reload the workers when a .py file of the project changes");
  command->add_option("--static", flags.static_mounts,
                      "URL=DIR: serve the files of DIR under URL natively (repeatable)");
  command->add_option("--trusted-proxy", flags.trusted_proxies,
                      "IP or CIDR whose X-Forwarded-For/-Proto are believed (repeatable)");
  command->add_option("--access-log", flags.access_log, "common, json or off");
  command->add_option("--max-connections", flags.max_connections, "open connections at most");
  command->add_option("--pipeline-depth", flags.pipeline_depth,
                      "pipelined requests of one connection in flight at once");
  command->add_option("--max-active-requests", flags.max_active_requests,
                      "requests running at once per worker; the rest wait (0: no limit)");
  command->add_option("--max-header-bytes", flags.max_header_bytes,
                      "request line + headers at most (else 431)");
  command->add_option("--max-header-fields", flags.max_header_fields,
                      "header lines per request at most (else 431)");
  command->add_option("--max-body-bytes", flags.max_body_bytes,
                      "request body at most (else 413)");
  command->add_option("--body-buffer-bytes", flags.body_buffer_bytes,
                      "a request body is read ahead up to this before the application runs");
  command->add_option("--min-body-rate", flags.min_body_rate,
                      "bytes/s a request body must keep up over 10 s, else 408 (0: no floor)");
  command->add_option("--header-timeout", flags.header_timeout,
                      "seconds for a whole request head to arrive");
  command->add_option("--keepalive-timeout", flags.keepalive_timeout,
                      "seconds an idle keep-alive connection stays open");
  command->add_option("--idle-timeout", flags.idle_timeout,
                      "seconds a body read or response write may make no progress");
  command->add_option("--request-timeout", flags.request_timeout,
                      "seconds until the application must start its response");
  command->add_option("--graceful-timeout", flags.graceful_timeout,
                      "seconds to finish requests in flight on SIGINT/SIGTERM");
  return command;
}

int run_runserver(const RunContext& context, const RunserverFlags& flags) {
  config::Config config = context.config;
  std::string problem = apply_flags(flags, config.project_dir, config.http);
  if (!problem.empty()) {
    std::cerr << kLabel << ": " << problem << "\n";
    return 2;
  }
  // The settings module as `puff django` sets it (manage.py's setdefault), so a project's
  // wsgi.py and the processes it starts see the configured one.
  const char* environment_settings = std::getenv("DJANGO_SETTINGS_MODULE");
  bool have_settings = environment_settings && *environment_settings;
  if (!have_settings && !config.django_settings.empty()) {
    setenv("DJANGO_SETTINGS_MODULE", config.django_settings.c_str(), 1);
    have_settings = true;
  }
  std::string app = !flags.wsgi.empty() ? flags.wsgi : config.wsgi;
  if (app.empty() && !have_settings) {
    std::cerr << kLabel << ": no WSGI application; pass --wsgi mysite.wsgi:application, set "
                           "wsgi = \"mysite.wsgi.application\" in puff.toml, or set "
                           "django_settings / DJANGO_SETTINGS_MODULE\n";
    return 2;
  }
  if (config.http.workers > 1 && config.runtime.io_threads == 0) {
    // The default is per process: N workers would start N times the threads there are cores
    // for, and the hand-offs between a worker's hub and its IO threads would wait for a core
    // more often (2 workers on 2 cores: json 7.7k -> 8.2-8.5k req/s, db 2.35k -> 2.5k). Each
    // worker gets its share of the cores, one of them its hub's.
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    unsigned per_worker = cores / static_cast<unsigned>(config.http.workers);
    config.runtime.io_threads = static_cast<int>(per_worker > 2 ? per_worker - 1 : 1);
  }
  RunContext run_context{config, context.python};
  // Slots for the old and the new workers together while a reload overlaps them.
  auto balance = config.http.workers > 1 ? http::AcceptBalance::create(2 * config.http.workers)
                                         : nullptr;
  auto serve = [&](int listen_fd, const WorkerSeat& seat) {
    wsgi::register_builtin({.http = config.http,
                            .app = app,
                            .label = kLabel,
                            .listen_fd = listen_fd,
                            .worker = seat.index,
                            .accept_balance = seat.slot >= 0 ? balance : nullptr,
                            .balance_slot = seat.slot,
                            .ready_fd = seat.ready_fd});
    int code = run_entry(run_context, {.label = kLabel,
                                       .target = "_puff_wsgi:serve",
                                       .argv = {kLabel},
                                       .watchdog = true,
                                       .prepare = wsgi::prepare_app});
    http::flush_access_log();  // the IO threads are gone: every line is in
    return code;
  };
  if (config.http.workers == 1 && !config.http.reload) return serve(-1, {});

  // Several workers: the supervisor (no Python in it) opens the socket they all accept on,
  // and announces the server once its workers accept (the application loads).
  int listen_fd = -1;
  std::string listen_problem = http::open_listener(config.http.bind, 1024, &listen_fd);
  if (!listen_problem.empty()) {
    std::cerr << kLabel << ": " << listen_problem << "\n";
    return 1;
  }
  std::string announce = "serving " + (app.empty() ? std::string("the Django project") : app) +
                         " on " + http::listener_address(listen_fd) + " (pid " +
                         std::to_string(getpid()) + ", " + std::to_string(config.http.workers) +
                         (config.http.workers == 1 ? " worker" : " workers") +
                         (config.http.reload ? ", reloading on changes" : "") + "; Ctrl-C to stop)";
  return supervise_workers({.count = config.http.workers,
                            .listen_fd = listen_fd,
                            .graceful_timeout_s = config.http.graceful_timeout_s,
                            .label = kLabel,
                            .announce = announce,
                            .watch_dir = config.http.reload ? config.project_dir : "",
                            .balance = balance},
                           [&](const WorkerSeat& seat) { return serve(listen_fd, seat); });
}

Command runserver_command() {
  auto flags = std::make_shared<RunserverFlags>();
  return {.add = [flags](CLI::App& app) { return add_runserver_command(app, *flags); },
          .run = [flags](const Invocation& invocation) {
            return run_runserver(*invocation.context, *flags);
          }};
}

}  // namespace puff::cli
