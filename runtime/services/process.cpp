#include "services/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char** environ;

namespace puff::services {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxOutput = 1 << 20;

// Closes an fd on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string errno_text(int err) { return std::strerror(err); }

// Supplementary groups of an account, computed before fork (getgrouplist is not
// async-signal-safe).
std::vector<gid_t> account_groups(const Account& account) {
  int count = 32;
  std::vector<gid_t> groups(count);
  if (getgrouplist(account.name.c_str(), account.gid, groups.data(), &count) < 0) {
    groups.resize(count);
    if (getgrouplist(account.name.c_str(), account.gid, groups.data(), &count) < 0) {
      return {account.gid};
    }
  }
  groups.resize(count);
  return groups;
}

// In the child after fork: drop to `account`. Returns 0 or an errno value.
int switch_user(const Account& account, const std::vector<gid_t>& groups) {
  if (setgroups(groups.size(), groups.data()) != 0) return errno;
  if (setgid(account.gid) != 0) return errno;
  if (setuid(account.uid) != 0) return errno;
  return 0;
}

void reset_signals_in_child() {
  // A parent (Python, Asio's signal_set) may ignore or block signals; a server we start must
  // see SIGTERM/SIGINT/SIGPIPE normally.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);
  }
}

void mark_fds_cloexec_from(int first) {
  if (close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  long max_fd = sysconf(_SC_OPEN_MAX);
  if (max_fd < 0 || max_fd > 65536) max_fd = 65536;
  for (int fd = first; fd < max_fd; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void append_output(std::string& out, const char* data, std::size_t n) {
  if (out.size() >= kMaxOutput) return;
  out.append(data, std::min(n, kMaxOutput - out.size()));
}

// Reads what is available now; returns false on EOF/error.
bool read_available(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      append_output(out, buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Where a child reports why it could not exec.
struct ChildFailure {
  int stage;  // 1 setsid/stdio, 2 user switch, 3 chdir, 4 exec
  int err;
};

std::string describe_failure(const ChildFailure& f, const std::string& program,
                             const RunOptions& options) {
  switch (f.stage) {
    case 2:
      return "cannot switch to user " + options.as_user->name + ": " + errno_text(f.err);
    case 3:
      return "cannot change directory to " + options.cwd + ": " + errno_text(f.err);
    case 4:
      return "cannot run " + program + ": " + errno_text(f.err);
    default:
      return "cannot start " + program + ": " + errno_text(f.err);
  }
}

// In the child: tells the parent why it could not start, and exits.
[[noreturn]] void fail_in_child(int failure_fd, int stage, int err) {
  ChildFailure failure{stage, err};
  ssize_t ignored = ::write(failure_fd, &failure, sizeof failure);
  (void)ignored;
  _exit(127);
}

// In the child after fork(): async-signal-safe calls only, on memory prepared before the fork.
[[noreturn]] void exec_in_child(const std::string& program, char* const* args, char* const* envp,
                                const std::vector<gid_t>& groups, const RunOptions& options,
                                int output_fd, int failure_fd) {
  if (setsid() < 0) fail_in_child(failure_fd, 1, errno);
  reset_signals_in_child();
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull < 0 || dup2(devnull, 0) < 0) fail_in_child(failure_fd, 1, errno);
  if (dup2(output_fd, 1) < 0 || dup2(output_fd, 2) < 0) fail_in_child(failure_fd, 1, errno);
  mark_fds_cloexec_from(3);
  if (options.as_user) {
    int err = switch_user(*options.as_user, groups);
    if (err != 0) fail_in_child(failure_fd, 2, err);
  }
  if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) fail_in_child(failure_fd, 3, errno);
  execve(program.c_str(), args, envp);
  fail_in_child(failure_fd, 4, errno);
}

// The child's environment: ours with `extra_env` applied ("NAME=value" sets, "NAME" removes),
// and the account's HOME, USER and LOGNAME when it runs as another user.
std::vector<std::string> child_environment(const RunOptions& options) {
  std::vector<std::string> overrides = options.extra_env;
  if (options.as_user) {
    overrides.push_back("HOME=" + options.as_user->home);
    overrides.push_back("USER=" + options.as_user->name);
    overrides.push_back("LOGNAME=" + options.as_user->name);
  }
  auto overridden = [&](const char* entry) {
    for (const auto& o : overrides) {
      std::string name = o.substr(0, o.find('='));
      if (std::strncmp(entry, name.c_str(), name.size()) == 0 && entry[name.size()] == '=') {
        return true;
      }
    }
    return false;
  };
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    if (!overridden(*e)) env_strings.emplace_back(*e);
  }
  for (const auto& o : overrides) {
    if (o.find('=') != std::string::npos) env_strings.push_back(o);
  }
  return env_strings;
}

// The null-terminated array of C strings execve() takes, pointing into `strings`.
std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const auto& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// One command run by run_command: spawn() starts it, wait() pumps its output until it exits or
// its time is up.
class ChildProcess {
 public:
  // Forks and execs `program`; "" or why it could not be started. The child reports a failure
  // on a close-on-exec pipe, so end-of-file there means the exec succeeded.
  std::string spawn(const std::string& program, const std::vector<std::string>& argv,
                    const RunOptions& options);
  // Collects the output until the child exits (its exit code) or `timeout_s` passes (then its
  // process group is killed and the result is timed_out).
  void wait(double timeout_s, RunResult& result);

 private:
  // Reads what the child writes within `wait_ms` (only waits once its pipe is closed).
  void pump(int wait_ms, std::string& output);

  pid_t pid_ = -1;
  Fd output_;  // the read end of the pipe the child's stdout and stderr go to
  bool output_open_ = true;
};

std::string ChildProcess::spawn(const std::string& program, const std::vector<std::string>& argv,
                                const RunOptions& options) {
  // Everything the child needs is prepared before fork().
  std::vector<char*> args = c_strings(argv);
  std::vector<std::string> env_strings = child_environment(options);
  std::vector<char*> envp = c_strings(env_strings);
  std::vector<gid_t> groups;
  if (options.as_user) groups = account_groups(*options.as_user);

  int out_pipe[2];
  int fail_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return "pipe: " + errno_text(errno);
  output_.reset(out_pipe[0]);
  Fd out_w(out_pipe[1]);
  if (pipe2(fail_pipe, O_CLOEXEC) != 0) return "pipe: " + errno_text(errno);
  Fd fail_r(fail_pipe[0]), fail_w(fail_pipe[1]);

  pid_t pid = fork();
  if (pid < 0) return "fork: " + errno_text(errno);
  if (pid == 0) {
    exec_in_child(program, args.data(), envp.data(), groups, options, out_pipe[1], fail_pipe[1]);
  }
  pid_ = pid;
  out_w.reset();
  fail_w.reset();
  ChildFailure failure{0, 0};
  ssize_t n;
  do {
    n = ::read(fail_r.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status;
    waitpid(pid, &status, 0);
    return describe_failure(failure, program, options);
  }
  return "";
}

void ChildProcess::pump(int wait_ms, std::string& output) {
  if (!output_open_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    return;
  }
  struct pollfd pfd{output_.get(), POLLIN, 0};
  if (poll(&pfd, 1, wait_ms) > 0) output_open_ = read_available(output_.get(), output);
}

void ChildProcess::wait(double timeout_s, RunResult& result) {
  fcntl(output_.get(), F_SETFL, fcntl(output_.get(), F_GETFL) | O_NONBLOCK);
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      // A daemon the child started may still hold the pipe: take what is there, don't wait.
      if (output_open_) read_available(output_.get(), result.output);
      result.exit_code = decode_status(status);
      return;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      if (output_open_) read_available(output_.get(), result.output);
      result.timed_out = true;
      result.exit_code = decode_status(status);
      return;
    }
    pump(static_cast<int>(std::min<long>(remaining.count(), 20)), result.output);
  }
}

}  // namespace

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::optional<Account> lookup_account(const std::string& name) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) {
    return std::nullopt;
  }
  return Account{found->pw_name, found->pw_uid, found->pw_gid,
                 found->pw_dir ? found->pw_dir : ""};
}

bool is_executable(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    // An empty PATH entry means the current directory.
    std::string dir = end == start ? std::string(".") : dirs.substr(start, end - start);
    if (is_executable(dir + "/" + name)) return dir;
    start = end + 1;
  }
  return "";
}

namespace {

// argv[0] as a path to exec: itself when it has a '/', else where $PATH has it; "" (and `error`
// set) when there is none.
std::string program_path(const std::vector<std::string>& argv, std::string& error) {
  if (argv.empty()) {
    error = "no command";
    return "";
  }
  const std::string& name = argv[0];
  if (name.find('/') != std::string::npos) return name;
  std::string dir = find_on_path(name);
  if (dir.empty()) {
    error = name + ": command not found on PATH";
    return "";
  }
  return dir + "/" + name;
}

}  // namespace

RunResult run_command(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult result;
  std::string program = program_path(argv, result.error);
  if (program.empty()) return result;
  ChildProcess child;
  result.error = child.spawn(program, argv, options);
  if (result.error.empty()) child.wait(options.timeout_s, result);
  return result;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;  // no /proc: trust kill()
  std::string line;
  std::getline(stat, line);
  // "pid (comm) S ...": comm may contain spaces and parentheses, the state follows the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return true;
  char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

bool wait_for_exit(pid_t pid, double timeout_s) {
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  while (process_alive(pid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string process_cmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  if (!in) return "";
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(s.begin(), s.end(), '\0', ' ');
  return trim(s);
}

pid_t read_pid_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return 0;
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

bool tcp_port_free(int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  // Servers set SO_REUSEADDR too: a port in TIME_WAIT is free for them.
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto addr = loopback(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  // Linux lets SO_REUSEADDR sockets share a port nobody listens on; listen() is the real test.
  return ::listen(fd.get(), 1) == 0;
}

int pick_free_tcp_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return 0;
  auto addr = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 0;
  socklen_t len = sizeof addr;
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

bool tcp_port_answers(int port, double timeout_s) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return false;
  auto addr = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINPROGRESS) return false;
  struct pollfd pfd{fd.get(), POLLOUT, 0};
  if (poll(&pfd, 1, static_cast<int>(timeout_s * 1000)) <= 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

std::uintmax_t file_size_or_zero(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uintmax_t>(st.st_size) : 0;
}

std::string last_relevant_log_line(const std::string& path, std::uintmax_t since) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = static_cast<std::streamoff>(since);
  if (from > size) from = 0;  // truncated or replaced since
  std::streamoff start = std::max<std::streamoff>(from, size - 16384);
  in.seekg(start);
  std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::istringstream split(tail);
  for (std::string line; std::getline(split, line);) {
    line = trim(line);
    if (!line.empty()) lines.push_back(line);
  }
  if (start > from && !lines.empty()) lines.erase(lines.begin());  // likely cut mid-line
  if (lines.empty()) return "";

  // PostgreSQL: "2024-... UTC [123] FATAL:  could not ...". redis: "123:M 22 Nov ... # Failed ...".
  auto message_of = [](const std::string& line) -> std::string {
    for (const char* level : {"PANIC:", "FATAL:", "ERROR:"}) {
      auto at = line.find(level);
      if (at != std::string::npos) {
        std::string msg = line.substr(at);
        std::string out;
        for (char c : msg) {
          if (c == ' ' && !out.empty() && out.back() == ' ') continue;
          out += c;
        }
        return out;
      }
    }
    auto hash = line.find(" # ");
    if (hash != std::string::npos) return line.substr(hash + 3);
    return "";
  };
  // The text after a PostgreSQL level tag ("LOG:  ...", "HINT:  ...").
  auto after_tag = [](const std::string& line, const char* tag) -> std::string {
    auto at = line.find(tag);
    return at == std::string::npos ? "" : trim(line.substr(at + std::strlen(tag)));
  };
  std::size_t first = lines.size() > 40 ? lines.size() - 40 : 0;
  for (std::size_t i = lines.size(); i-- > first;) {
    std::string msg = message_of(lines[i]);
    if (msg.empty()) continue;
    // 'FATAL: configuration file "..." contains errors' follows the LOG line naming the error.
    if (msg.find("contains errors") != std::string::npos && i > first) {
      std::string cause = after_tag(lines[i - 1], "LOG:");
      if (!cause.empty()) msg += ": " + cause;
    }
    if (i + 1 < lines.size()) {
      std::string hint = after_tag(lines[i + 1], "HINT:");
      if (!hint.empty()) msg += " (hint: " + hint + ")";
    }
    return msg;
  }
  return lines.back();
}

bool account_can_access(const Account& account, const std::string& path, int mode) {
  std::vector<gid_t> groups = account_groups(account);
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (switch_user(account, groups) != 0) _exit(2);
    _exit(::access(path.c_str(), mode) == 0 ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace puff::services
