// Small POSIX helpers for the embedded services and the CLI: run a command (no shell) with a
// deadline and captured output, optionally as another user and in its own session; check
// processes, ports and files. Pure C++; safe to call from a multithreaded process (the child
// side of fork() only makes async-signal-safe calls).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace puff::services {

// A system account to run a child as (the `postgres` user when we are root).
struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

std::optional<Account> lookup_account(const std::string& name);

struct RunOptions {
  double timeout_s = 60.0;                 // the child's process group is killed after this
  std::optional<Account> as_user;          // setgid/setgroups/setuid in the child
  std::string cwd;                         // chdir in the child (empty: inherit)
  std::vector<std::string> extra_env;      // "NAME=value" adds/overrides; "NAME" removes
};

struct RunResult {
  int exit_code = -1;      // exit status, 128+signal when killed by a signal, -1 when not run
  bool timed_out = false;
  std::string output;      // stdout and stderr, interleaved
  std::string error;       // why the command could not be started (exec failed, ...)

  bool ok() const { return error.empty() && !timed_out && exit_code == 0; }
};

// Runs argv[0] (searched on PATH when it has no '/') with argv. The child starts a new session
// (setsid), so a daemon it leaves behind is not in our process group and a Ctrl-C on our
// terminal does not reach it. Signal mask and dispositions are reset, fds >= 3 closed.
RunResult run_command(const std::vector<std::string>& argv, const RunOptions& options = {});

// True when `pid` names a live process (a zombie counts as dead: our pid 1 may not reap).
bool process_alive(pid_t pid);
// Waits until `pid` is no longer alive; false on timeout.
bool wait_for_exit(pid_t pid, double timeout_s);
// The process's command line with NULs as spaces ("" when gone or unreadable).
std::string process_cmdline(pid_t pid);

// The first integer in a pid file (postmaster.pid, redis.pid), or 0.
pid_t read_pid_file(const std::string& path);

// The directory of an executable named `name` on $PATH, or empty.
std::string find_on_path(const std::string& name);
bool is_executable(const std::string& path);

// Loopback TCP ports.
bool tcp_port_free(int port);                        // bind(127.0.0.1:port) succeeds
int pick_free_tcp_port();                            // bind(127.0.0.1:0); 0 on failure
bool tcp_port_answers(int port, double timeout_s);   // connect(127.0.0.1:port) succeeds

// The size of a file, 0 when missing: remember it before starting a server, then look only at
// what that start appended.
std::uintmax_t file_size_or_zero(const std::string& path);
// The line of a log file that says what went wrong: the last PANIC/FATAL/ERROR (PostgreSQL) or
// `#` (redis) message among the lines written after byte `since`, else the last line; empty
// when nothing was written.
std::string last_relevant_log_line(const std::string& path, std::uintmax_t since = 0);

// Whether `account` may open `path` with `mode` (access(2) flags), checked in a child that
// switched to the account, so ACLs and supplementary groups count.
bool account_can_access(const Account& account, const std::string& path, int mode);

std::string trim(const std::string& s);

}  // namespace puff::services
