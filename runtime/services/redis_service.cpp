#include "services/redis_service.h"

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "redis/probe.h"
#include "services/detail/server_start.h"
#include "services/process.h"

namespace puff::services::detail {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMissingRedis =
    "redis-server not found on PATH or in /usr/bin; install it with `apt-get install "
    "redis-server`";

std::string find_redis_server() {
  std::string dir = find_on_path("redis-server");
  if (!dir.empty()) return dir + "/redis-server";
  if (is_executable("/usr/bin/redis-server")) return "/usr/bin/redis-server";
  throw ServiceError(kMissingRedis);
}

// The pid in redis.pid when it is a live redis-server (not a recycled pid).
pid_t live_redis_pid(const Paths& paths) {
  pid_t pid = read_pid_file(paths.redis_pid().string());
  if (!process_alive(pid)) return 0;
  std::string cmdline = process_cmdline(pid);
  if (!cmdline.empty() && cmdline.find("redis") == std::string::npos) return 0;
  return pid;
}

// The port of a running redis-server whose state file was lost: its title is
// "redis-server 127.0.0.1:PORT".
int port_from_title(pid_t pid) {
  std::string cmdline = process_cmdline(pid);
  auto colon = cmdline.rfind(':');
  if (colon == std::string::npos) return 0;
  return std::atoi(cmdline.c_str() + colon + 1);
}

}  // namespace

void redis_up(const Paths& paths, State& state, std::ostream& out) {
  std::string server = find_redis_server();
  make_dirs(paths.redis_dir());

  if (pid_t pid = live_redis_pid(paths)) {
    int port = state.redis_port ? state.redis_port : port_from_title(pid);
    if (port > 0 && redis::probe(redis_url_for(port), kProbeTimeout).ok) {
      state.redis_port = port;
      out << "redis: already running at " << redis_url_for(port) << " (pid " << pid << ")\n";
      return;
    }
    throw ServiceError("a redis-server (pid " + std::to_string(pid) + ") from " +
                       paths.redis_pid().string() + " is alive but does not answer; stop it " +
                       "(`kill " + std::to_string(pid) + "`) and retry");
  }

  int port = choose_port("redis", state.redis_port, out);
  const std::string log = paths.redis_log().string();
  const auto log_from = file_size_or_zero(log);
  std::error_code ec;
  fs::remove(paths.redis_pid(), ec);
  std::vector<std::string> argv = {server,        "--daemonize",  "yes",
                                   "--bind",      "127.0.0.1",    "--port",
                                   std::to_string(port),          "--dir",
                                   paths.redis_dir().string(),    "--pidfile",
                                   paths.redis_pid().string(),    "--logfile",
                                   log,           "--save",       "60 1",
                                   "--appendonly", "no"};
  if (socket_path_fits(paths.redis_dir(), "redis.sock")) {
    argv.insert(argv.end(), {"--unixsocket", paths.redis_socket().string(), "--unixsocketperm",
                             "700"});
  } else {
    out << "redis: " << paths.redis_socket().string()
        << " is too long for a unix socket path; TCP only\n";
  }
  RunResult r = run_command(argv, {.timeout_s = 30, .cwd = paths.redis_dir().string()});
  if (!r.ok()) {
    throw ServiceError("redis-server failed to start: " + failure_reason(r, log, log_from) +
                       " (log: " + log + ")");
  }

  // Daemonized: the pid file appears once it listens; a failed bind exits before that.
  const std::string url = redis_url_for(port);
  auto give_up = [&](const std::string& why) {
    std::string line = last_relevant_log_line(log, log_from);
    throw ServiceError("redis-server failed to start: " + (line.empty() ? why : line) +
                       " (log: " + log + ")");
  };
  for (int attempt = 0;; ++attempt) {
    pid_t pid = read_pid_file(paths.redis_pid().string());
    if (pid && !process_alive(pid)) give_up("it exited");
    if (pid && redis::probe(url, 1).ok) {
      state.redis_port = port;
      write_state(paths, state);
      out << "redis: started at " << url << " (pid " << pid << ")\n";
      return;
    }
    if ((!pid && attempt >= 40) || attempt >= 200) give_up("it did not answer within 10s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void redis_down(const Paths& paths, std::ostream& out) {
  pid_t pid = live_redis_pid(paths);
  if (!pid) {
    out << "redis: not running\n";
    return;
  }
  // SIGTERM: redis saves (save "60 1") and exits, removing its pid file.
  kill(pid, SIGTERM);
  if (!wait_for_exit(pid, 30)) {
    kill(pid, SIGKILL);
    wait_for_exit(pid, 5);
    out << "redis: did not stop within 30s; killed (pid " << pid << ")\n";
    return;
  }
  out << "redis: stopped (pid " << pid << ")\n";
}

ServiceStatus redis_status_of(const Paths& paths) {
  ServiceStatus st;
  st.name = "redis";
  State state = read_state(paths);
  if (state.redis_port) st.url = redis_url_for(state.redis_port);
  pid_t pid = live_redis_pid(paths);
  if (!pid) {
    std::error_code ec;
    st.detail = fs::exists(paths.redis_dir(), ec)
                    ? "stopped (data in " + paths.redis_dir().string() + ")"
                    : "not created yet (no " + paths.redis_dir().string() + ")";
    return st;
  }
  if (!state.redis_port) {
    if (int port = port_from_title(pid)) st.url = redis_url_for(port);
  }
  redis::ProbeResult probe = redis::probe(st.url, kProbeTimeout);
  if (st.url.empty() || !probe.ok) {
    st.detail = "pid " + std::to_string(pid) + " is alive but does not answer: " + probe.message;
    return st;
  }
  st.running = true;
  st.detail = "pid " + std::to_string(pid) + ", data in " + paths.redis_dir().string();
  return st;
}

}  // namespace puff::services::detail
