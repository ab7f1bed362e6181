#include "services/postgres_service.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "pg/probe.h"
#include "services/detail/server_start.h"
#include "services/process.h"

namespace puff::services::detail {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMissingPostgres =
    "PostgreSQL server binaries (initdb, pg_ctl) not found; install them with `apt-get install "
    "postgresql` or set PUFF_PG_BINDIR";

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

}  // namespace

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

}  // namespace puff::services::detail
