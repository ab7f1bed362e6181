#include "services/services.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "pg/probe.h"
#include "redis/probe.h"
#include "services/process.h"
#include "services/state_file.h"

namespace puff::services {
namespace fs = std::filesystem;
namespace {

constexpr double kProbeTimeout = 2.0;
constexpr const char* kMissingPostgres =
    "PostgreSQL server binaries (initdb, pg_ctl) not found; install them with `apt-get install "
    "postgresql` or set PUFF_PG_BINDIR";
constexpr const char* kMissingRedis =
    "redis-server not found on PATH or in /usr/bin; install it with `apt-get install "
    "redis-server`";

std::string postgres_url_for(int port) {
  return "postgresql://puff@127.0.0.1:" + std::to_string(port) + "/puff";
}
std::string redis_url_for(int port) { return "redis://127.0.0.1:" + std::to_string(port) + "/0"; }

// ---- paths ----

struct Paths {
  fs::path dir;
  fs::path state_file() const { return dir / "services.json"; }
  fs::path postgres_link() const { return dir / "postgres"; }
  // The cluster's real location: <dir>/postgres, or where that symlink points.
  fs::path postgres_root() const {
    std::error_code ec;
    fs::path root = fs::canonical(postgres_link(), ec);
    return ec ? postgres_link() : root;
  }
  fs::path data() const { return postgres_root() / "data"; }
  fs::path pg_run() const { return postgres_root() / "run"; }
  fs::path pg_log() const { return postgres_root() / "postgres.log"; }
  fs::path postmaster_pid() const { return data() / "postmaster.pid"; }
  fs::path redis_dir() const { return dir / "redis"; }
  fs::path redis_socket() const { return redis_dir() / "redis.sock"; }
  fs::path redis_pid() const { return redis_dir() / "redis.pid"; }
  fs::path redis_log() const { return redis_dir() / "redis.log"; }
};

State read_state(const Paths& paths) { return read_state_file(paths.state_file().string()); }

void write_state(const Paths& paths, const State& state) {
  StateFacts facts;
  facts.postgres_url = state.postgres_port ? postgres_url_for(state.postgres_port) : "";
  facts.postgres_data = paths.data().string();
  facts.redis_url = state.redis_port ? redis_url_for(state.redis_port) : "";
  facts.redis_dir = paths.redis_dir().string();
  write_state_file(paths.state_file().string(), state, facts);
}

// ---- helpers ----

// The line of a command's output that explains a failure.
std::string relevant_output_line(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (!line.empty()) lines.push_back(line);
  }
  // redis-server: "*** FATAL CONFIG FILE ERROR ***", ">>> 'save "a b"'", "Invalid save parameters".
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].rfind(">>> ", 0) == 0) return "bad setting " + lines[i].substr(4) + ": " + lines.back();
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    std::string lower = *it;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower.find("error") != std::string::npos || lower.find("fatal") != std::string::npos) {
      return *it;
    }
  }
  return lines.empty() ? "" : lines.back();
}

std::string failure_reason(const RunResult& r, const std::string& log, std::uintmax_t log_from) {
  if (!r.error.empty()) return r.error;
  std::string line;
  if (!log.empty()) line = last_relevant_log_line(log, log_from);
  if (line.empty()) line = relevant_output_line(r.output);
  if (r.timed_out) return "timed out" + (line.empty() ? "" : ": " + line);
  if (line.empty()) return "exit status " + std::to_string(r.exit_code);
  return line;
}

// Whether "<dir>/<name>" fits in sockaddr_un.sun_path.
bool socket_path_fits(const fs::path& dir, const std::string& name) {
  return (dir / name).string().size() < sizeof(sockaddr_un{}.sun_path);
}

void chown_to(const fs::path& path, const std::optional<Account>& account) {
  if (!account) return;
  if (::chown(path.c_str(), account->uid, account->gid) != 0) {
    throw ServiceError("cannot give " + path.string() + " to user " + account->name + ": " +
                       std::strerror(errno));
  }
}

void make_dirs(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw ServiceError("cannot create " + path.string() + ": " + ec.message());
}

std::string hex_hash(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 12);
}

// ---- PostgreSQL ----

bool has_server_binaries(const fs::path& dir) {
  return is_executable((dir / "initdb").string()) && is_executable((dir / "pg_ctl").string()) &&
         is_executable((dir / "postgres").string());
}

fs::path find_postgres_bindir() {
  if (const char* env = std::getenv("PUFF_PG_BINDIR"); env && *env) {
    if (has_server_binaries(env)) return env;
    throw ServiceError(std::string("PUFF_PG_BINDIR=") + env +
                       " does not contain initdb, pg_ctl and postgres");
  }
  if (!find_on_path("pg_config").empty()) {
    RunResult r = run_command({"pg_config", "--bindir"}, {.timeout_s = 10});
    if (r.ok() && has_server_binaries(trim(r.output))) return trim(r.output);
  }
  if (std::string dir = find_on_path("initdb"); !dir.empty() && has_server_binaries(dir)) {
    return dir;
  }
  // Debian keeps server binaries off PATH, one directory per major version.
  std::error_code ec;
  fs::path best;
  double best_version = -1;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    double version = std::strtod(name.c_str(), &end);
    if (end == name.c_str() || *end != '\0') continue;
    if (version > best_version && has_server_binaries(entry.path() / "bin")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  if (!best.empty()) return best;
  throw ServiceError(kMissingPostgres);
}

// initdb and postgres refuse to run as root: then they run as the `postgres` system user.
std::optional<Account> postgres_account() {
  if (geteuid() != 0) return std::nullopt;
  auto account = lookup_account("postgres");
  if (!account) {
    throw ServiceError(
        "running as root, and PostgreSQL refuses to run as root, but there is no `postgres` "
        "user to run it as; create one (`adduser --system --group postgres`, the postgresql "
        "package does) or run puff as an ordinary user");
  }
  return account;
}

// Creates <dir>/postgres owned by the server's user. When that user cannot reach <dir> (a
// parent such as /root or a pytest temp dir is mode 0700), the cluster lives under its home
// and <dir>/postgres becomes a symlink to it.
fs::path prepare_postgres_root(const Paths& paths, const std::optional<Account>& account,
                               std::ostream& out) {
  fs::path link = paths.postgres_link();
  std::error_code ec;
  if (fs::is_symlink(link, ec) && !fs::exists(link, ec)) {
    throw ServiceError(link.string() + " is a symlink to a missing directory (" +
                       fs::read_symlink(link, ec).string() + "); remove it to start afresh");
  }
  if (!fs::exists(link, ec)) {
    make_dirs(link);
    if (account && !account_can_access(*account, link.string(), X_OK)) {
      fs::path home = account->home;
      if (home.empty() || !fs::is_directory(home, ec) ||
          !account_can_access(*account, home.string(), W_OK | X_OK)) {
        throw ServiceError("the `" + account->name + "` user cannot reach " + link.string() +
                           " (a parent directory is not searchable by it) and has no usable "
                           "home directory; move the services dir or make its parents "
                           "searchable (chmod o+x)");
      }
      fs::path elsewhere = home / "puff" /
                           (paths.dir.parent_path().filename().string() + "-" +
                            hex_hash(paths.dir.string()));
      make_dirs(elsewhere);
      chown_to(home / "puff", account);
      fs::remove(link, ec);
      fs::create_directory_symlink(elsewhere, link, ec);
      if (ec) throw ServiceError("cannot link " + link.string() + ": " + ec.message());
      out << "postgres: the `" << account->name << "` user cannot reach " << paths.dir.string()
          << "; keeping the cluster in " << elsewhere.string() << " (linked from "
          << link.string() << ")\n";
    }
  }
  fs::path root = paths.postgres_root();
  chown_to(root, account);
  make_dirs(paths.pg_run());
  chown_to(paths.pg_run(), account);
  return root;
}

RunOptions as_postgres(const std::optional<Account>& account, const fs::path& cwd,
                       double timeout_s) {
  RunOptions options;
  options.as_user = account;
  options.cwd = cwd.string();
  options.timeout_s = timeout_s;
  // Settings from the caller's environment must not redirect pg_ctl to another cluster.
  options.extra_env = {"PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE", "LC_ALL=C"};
  return options;
}

// postmaster.pid: line 1 pid, line 4 port (documented in PostgreSQL's pidfile.h).
struct Postmaster {
  pid_t pid = 0;
  int port = 0;
};

Postmaster read_postmaster(const Paths& paths) {
  std::ifstream in(paths.postmaster_pid());
  Postmaster pm;
  std::string line;
  for (int n = 1; n <= 4 && std::getline(in, line); ++n) {
    if (n == 1) pm.pid = static_cast<pid_t>(std::atol(line.c_str()));
    if (n == 4) pm.port = std::atoi(line.c_str());
  }
  return pm;
}

void initdb(const fs::path& bindir, const Paths& paths, const std::optional<Account>& account,
            std::ostream& out) {
  RunResult r = run_command(
      {(bindir / "initdb").string(), "-D", paths.data().string(), "-U", "puff", "--auth=trust",
       "-E", "UTF8", "--locale=C", "--no-instructions"},
      as_postgres(account, paths.postgres_root(), 120));
  if (!r.ok()) {
    throw ServiceError("initdb failed: " + failure_reason(r, "", 0) + " (data dir " +
                       paths.data().string() + ")");
  }
  // Our settings live in puff.conf, rewritten on every start (the port may change).
  std::ofstream conf(paths.data() / "postgresql.conf", std::ios::app);
  conf << "\n# Added by `puff services up`: listen address, port and socket directory.\n"
          "include_if_exists = 'puff.conf'\n";
  if (!conf.flush()) throw ServiceError("cannot append to " + (paths.data() / "postgresql.conf").string());
  out << "postgres: created a new cluster in " << paths.data().string() << "\n";
}

void write_postgres_conf(const Paths& paths, int port, const std::optional<Account>& account,
                         std::ostream& out) {
  std::string sockets = paths.pg_run().string();
  if (!socket_path_fits(paths.pg_run(), ".s.PGSQL." + std::to_string(port))) {
    out << "postgres: " << sockets << " is too long for a unix socket path; TCP only\n";
    sockets.clear();
  }
  fs::path file = paths.data() / "puff.conf";
  {
    std::ofstream conf(file, std::ios::trunc);
    conf << "# Written by `puff services up` on every start; edit postgresql.conf instead.\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port << "\n"
         << "unix_socket_directories = '" << sockets << "'\n";
    if (!conf.flush()) throw ServiceError("cannot write " + file.string());
  }
  chown_to(file, account);
}

// Connects as the superuser `puff` over TCP and creates the `puff` database if missing.
void ensure_database(int port) {
  std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(port) + " user=puff dbname=postgres connect_timeout=10";
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  auto error_line = [&] {
    std::string msg = PQerrorMessage(conn.get());
    return trim(msg.substr(0, msg.find('\n')));
  };
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw ServiceError("postgres is running but refuses connections: " + error_line());
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> exists(
      PQexec(conn.get(), "SELECT 1 FROM pg_database WHERE datname = 'puff'"), &PQclear);
  if (PQresultStatus(exists.get()) != PGRES_TUPLES_OK) {
    throw ServiceError("cannot list databases: " + error_line());
  }
  if (PQntuples(exists.get()) == 1) return;
  std::unique_ptr<PGresult, decltype(&PQclear)> created(PQexec(conn.get(), "CREATE DATABASE puff"),
                                                        &PQclear);
  if (PQresultStatus(created.get()) != PGRES_COMMAND_OK) {
    throw ServiceError("cannot create database puff: " + error_line());
  }
}

// A port for a server: the recorded one when still free, else a new one (said aloud).
int choose_port(const std::string& service, int recorded, std::ostream& out) {
  if (recorded > 0 && tcp_port_free(recorded)) return recorded;
  int port = pick_free_tcp_port();
  if (port == 0) throw ServiceError("cannot find a free TCP port on 127.0.0.1 for " + service);
  if (recorded > 0) {
    out << service << ": port " << recorded << " is taken by another program; using " << port
        << " instead\n";
  }
  return port;
}

// Unix socket lock files (.s.PGSQL.<port>.lock, first line the pid) left in our private socket
// directory by a crashed postmaster; same zombie caveat as postmaster.pid.
void remove_stale_socket_locks(const Paths& paths) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(paths.pg_run(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".s.PGSQL.", 0) != 0 || !name.ends_with(".lock")) continue;
    if (process_alive(read_pid_file(entry.path().string()))) continue;
    fs::path socket = entry.path();
    socket.replace_extension();
    fs::remove(entry.path(), ec);
    fs::remove(socket, ec);
  }
}

void postgres_up(const Paths& paths, State& state, std::ostream& out) {
  fs::path bindir = find_postgres_bindir();
  auto account = postgres_account();
  prepare_postgres_root(paths, account, out);

  Postmaster pm = read_postmaster(paths);
  if (process_alive(pm.pid) && pm.port > 0 && tcp_port_answers(pm.port, kProbeTimeout)) {
    ensure_database(pm.port);
    state.postgres_port = pm.port;
    out << "postgres: already running at " << postgres_url_for(pm.port) << " (pid " << pm.pid
        << ")\n";
    return;
  }

  std::error_code ec;
  if (!fs::exists(paths.data() / "PG_VERSION", ec)) initdb(bindir, paths, account, out);
  if (pm.pid && !process_alive(pm.pid)) {
    // Left by a crash. postgres would remove it too, unless the dead pid is an unreaped zombie
    // (as under a pid 1 that does not reap): then it refuses to start.
    fs::remove(paths.postmaster_pid(), ec);
  }
  remove_stale_socket_locks(paths);

  int port = choose_port("postgres", state.postgres_port, out);
  write_postgres_conf(paths, port, account, out);
  const std::string log = paths.pg_log().string();
  const auto log_from = file_size_or_zero(log);
  RunResult r = run_command({(bindir / "pg_ctl").string(), "start", "-D", paths.data().string(),
                             "-w", "-t", "30", "-s", "-l", log},
                            as_postgres(account, paths.postgres_root(), 45));
  if (!r.ok()) {
    throw ServiceError("postgres failed to start: " + failure_reason(r, log, log_from) +
                       " (log: " + log + ")");
  }
  state.postgres_port = port;
  write_state(paths, state);
  ensure_database(port);
  out << "postgres: started at " << postgres_url_for(port) << " (pid "
      << read_postmaster(paths).pid << ")\n";
}

void postgres_down(const Paths& paths, std::ostream& out) {
  std::error_code ec;
  if (!fs::exists(paths.data() / "PG_VERSION", ec)) {
    out << "postgres: not created\n";
    return;
  }
  Postmaster pm = read_postmaster(paths);
  if (!process_alive(pm.pid)) {
    out << "postgres: not running\n";
    return;
  }
  fs::path bindir = find_postgres_bindir();
  auto account = postgres_account();
  const std::string log = paths.pg_log().string();
  const auto log_from = file_size_or_zero(log);
  RunResult r = run_command(
      {(bindir / "pg_ctl").string(), "stop", "-D", paths.data().string(), "-m", "fast", "-w",
       "-t", "30", "-s"},
      as_postgres(account, paths.postgres_root(), 45));
  // pg_ctl returns once postmaster.pid is gone; the process exits right after.
  if (!wait_for_exit(pm.pid, r.ok() ? 10 : 1)) {
    throw ServiceError("could not stop postgres (pid " + std::to_string(pm.pid) +
                       "): " + failure_reason(r, log, log_from) + " (log: " + log + ")");
  }
  out << "postgres: stopped (pid " << pm.pid << ")\n";
}

ServiceStatus postgres_status_of(const Paths& paths) {
  ServiceStatus st;
  st.name = "postgres";
  State state = read_state(paths);
  if (state.postgres_port) st.url = postgres_url_for(state.postgres_port);
  std::error_code ec;
  if (!fs::exists(paths.data() / "PG_VERSION", ec)) {
    st.detail = "not created yet (no cluster in " + paths.data().string() + ")";
    return st;
  }
  Postmaster pm = read_postmaster(paths);
  if (!process_alive(pm.pid)) {
    st.detail = "stopped (data in " + paths.data().string() + ")";
    return st;
  }
  if (pm.port > 0) st.url = postgres_url_for(pm.port);
  pg::ProbeResult probe = pg::probe(st.url, kProbeTimeout);
  if (!probe.ok) {
    st.detail = "pid " + std::to_string(pm.pid) + " is alive but does not answer: " + probe.message;
    return st;
  }
  st.running = true;
  st.detail = "pid " + std::to_string(pm.pid) + ", data in " + paths.data().string();
  return st;
}

// ---- redis ----

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
                       paths.redis_pid().string() + " is alive but does not answer; stop it (`kill " +
                       std::to_string(pid) + "`) and retry");
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

}  // namespace

Services::Services(std::string dir) : dir_(std::move(dir)) {}

void Services::up(std::ostream& out) {
  Paths paths{fs::absolute(dir_)};
  make_dirs(paths.dir);
  State state = read_state(paths);
  try {
    postgres_up(paths, state, out);
    redis_up(paths, state, out);
  } catch (...) {
    try {
      write_state(paths, state);  // keep what did start findable by `down`/`status`
    } catch (const ServiceError&) {
    }
    throw;
  }
  write_state(paths, state);
}

void Services::down(std::ostream& out) {
  Paths paths{fs::absolute(dir_)};
  std::error_code ec;
  if (!fs::exists(paths.dir, ec)) {
    out << "postgres: not created\nredis: not created\n";
    return;
  }
  // Stop both even when the first fails; report the first failure.
  std::string first_error;
  try {
    postgres_down(paths, out);
  } catch (const ServiceError& e) {
    first_error = e.what();
  }
  try {
    redis_down(paths, out);
  } catch (const ServiceError& e) {
    if (first_error.empty()) first_error = e.what();
  }
  if (!first_error.empty()) throw ServiceError(first_error);
}

ServiceStatus Services::postgres_status() const {
  return postgres_status_of(Paths{fs::absolute(dir_)});
}

ServiceStatus Services::redis_status() const { return redis_status_of(Paths{fs::absolute(dir_)}); }

std::optional<std::string> Services::postgres_url() const {
  ServiceStatus st = postgres_status();
  if (!st.running) return std::nullopt;
  return st.url;
}

std::optional<std::string> Services::redis_url() const {
  ServiceStatus st = redis_status();
  if (!st.running) return std::nullopt;
  return st.url;
}

}  // namespace puff::services
