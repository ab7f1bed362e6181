#include "cli/runserver_workers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "http/listener.h"

namespace puff::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Workers that die before they accept, this many in a row, stop the supervisor (a broken
// application would otherwise fork forever). The first of a generation is handled apart.
constexpr int kMaxFailedStarts = 5;
constexpr auto kScanInterval = std::chrono::milliseconds(500);
constexpr int kTickMs = 200;

struct Worker {
  int index = 0;
  int slot = -1;  // in the plan's AcceptBalance
  int generation = 0;
  bool accepting = false;  // it said so on the ready pipe
  bool retiring = false;   // sent SIGTERM (replaced, or the stop): draining, not restarted
};

void say(const WorkerPlan& plan, const std::string& line) {
  std::string text = plan.label + ": " + line + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

// A fingerprint of the .py files below `dir` (paths, sizes, modification times), to notice a
// change by polling: no inotify watch per directory, and an editor's rename-over is seen too.
std::string python_files_fingerprint(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string print;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    if (entry.is_directory(ec)) {
      if (name.starts_with(".") || name == "__pycache__" || name == "node_modules" ||
          name == "site-packages") {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!name.ends_with(".py") || !entry.is_regular_file(ec)) continue;
    auto stamp = entry.last_write_time(ec).time_since_epoch().count();
    print += entry.path().string() + ":" + std::to_string(entry.file_size(ec)) + ":" +
             std::to_string(stamp) + "\n";
  }
  return print;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

// Exit code 1 before accepting: the worker printed why (the application's import error).
bool said_why(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 1; }

class Supervisor {
 public:
  Supervisor(const WorkerPlan& plan, const RunWorker& run_worker)
      : plan_(plan), run_worker_(run_worker), listen_fd_(plan.listen_fd) {}

  int run() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
    sigprocmask(SIG_BLOCK, &signals, &previous_mask_);
    signal_fd_ = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd_ < 0 || pipe2(ready_pipe_, O_CLOEXEC | O_NONBLOCK) < 0) {
      say(plan_, std::string("cannot start the workers: ") + std::strerror(errno));
      return 1;
    }
    if (!plan_.watch_dir.empty()) {
      fingerprint_ = python_files_fingerprint(plan_.watch_dir);
      next_scan_ = Clock::now() + kScanInterval;
    }
    start_generation();
    while (!stopping_ || !workers_.empty()) {
      pollfd ready[2] = {{signal_fd_, POLLIN, 0}, {ready_pipe_[0], POLLIN, 0}};
      poll(ready, 2, kTickMs);
      take_accepting();  // before reaping: a worker may have said it accepts, then died
      signalfd_siginfo info;
      while (read(signal_fd_, &info, sizeof info) == sizeof info) on_signal(info.ssi_signo);
      reap();
      if (!stopping_) scan_for_changes();
      if (stopping_ && !workers_.empty() && Clock::now() > deadline_) {
        say(plan_, "workers still running after graceful_timeout_s; killing them");
        for (auto& [pid, worker] : workers_) kill(pid, SIGKILL);
        deadline_ = Clock::now() + std::chrono::seconds(5);
      }
    }
    stop_listening();
    close(signal_fd_);
    close(ready_pipe_[0]);
    close(ready_pipe_[1]);
    sigprocmask(SIG_SETMASK, &previous_mask_, nullptr);
    if (announced_) say(plan_, "stopped");
    return exit_code_;
  }

 private:
  void on_signal(int signum) {
    if (signum == SIGHUP && !stopping_) {
      say(plan_, "SIGHUP");
      reload();
    } else if ((signum == SIGINT || signum == SIGTERM) && !stopping_) {
      say(plan_, "stopping: the workers finish the requests in flight (up to " +
                     std::to_string(static_cast<int>(plan_.graceful_timeout_s)) + " s)");
      begin_stop(0);
    } else if (signum == SIGINT || signum == SIGTERM) {
      say(plan_, "stopping now (second signal)");
      for (int twice = 0; twice < 2; ++twice) {  // a worker's second signal: it stops at once
        for (auto& [pid, worker] : workers_) kill(pid, SIGINT);
      }
    }
  }

  // The stop: the socket takes no new connections from now on (the workers still take those
  // the kernel accepted), and every worker drains.
  void begin_stop(int exit_code) {
    stopping_ = true;
    exit_code_ = exit_code;
    stop_listening();
    for (auto& [pid, worker] : workers_) retire(pid, worker);
    deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(plan_.graceful_timeout_s + 5));
  }

  void stop_listening() {
    if (listen_fd_ < 0) return;
    http::stop_new_connections(listen_fd_);
    close(listen_fd_);
    listen_fd_ = -1;
  }

  void retire(pid_t pid, Worker& worker) {
    if (worker.retiring) return;  // a second SIGTERM would stop it at once
    worker.retiring = true;
    kill(pid, SIGTERM);
  }

  // A new generation of workers: its first one now, the others once it accepts.
  void start_generation() {
    ++generation_;
    rest_started_ = false;
    failed_starts_ = 0;
    // An unfinished reload's workers are not needed: the serving generation still serves.
    for (auto& [pid, worker] : workers_) {
      if (worker.generation != serving_generation_) retire(pid, worker);
    }
    spawn(1);
  }

  void reload() {
    say(plan_, "reloading: starting new workers, then stopping the old ones");
    start_generation();
  }

  void take_accepting() {
    std::int32_t pids[256];
    ssize_t n;
    while ((n = read(ready_pipe_[0], pids, sizeof pids)) > 0) {
      for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof pids[0]); ++i) on_accepting(pids[i]);
    }
  }

  void on_accepting(pid_t pid) {
    auto it = workers_.find(pid);
    if (it == workers_.end()) return;
    it->second.accepting = true;
    if (it->second.generation != generation_ || stopping_) return;
    if (!rest_started_) {
      rest_started_ = true;
      for (int index = 2; index <= plan_.count; ++index) spawn(index);
    }
    // Every new worker accepts: the old ones drain.
    int accepting = 0;
    for (const auto& [other, worker] : workers_) {
      accepting += worker.generation == generation_ && worker.accepting && !worker.retiring;
    }
    if (accepting < plan_.count || serving_generation_ == generation_) return;
    serving_generation_ = generation_;
    for (auto& [other, worker] : workers_) {
      if (worker.generation != generation_) retire(other, worker);
    }
    if (!announced_) {
      say(plan_, plan_.announce);
      announced_ = true;
    }
  }

  void reap() {
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      auto it = workers_.find(pid);
      if (it == workers_.end()) continue;
      Worker worker = it->second;
      workers_.erase(it);
      // A worker that died did not say it stopped accepting.
      if (plan_.balance) plan_.balance->leave(worker.slot);
      if (!stopping_ && !worker.retiring && worker.generation == generation_) {
        on_worker_died(pid, worker, status);
      }
    }
  }

  void on_worker_died(pid_t pid, const Worker& worker, int status) {
    std::string what = "worker " + std::to_string(worker.index) + " (pid " + std::to_string(pid) +
                       ") " + describe(status);
    if (!worker.accepting && !rest_started_) {
      first_worker_failed(what, status);
      return;
    }
    failed_starts_ = worker.accepting ? 0 : failed_starts_ + 1;
    say(plan_, what + "; starting a new one");
    if (!worker.accepting && !plan_.watch_dir.empty()) {
      // Development: the code is likely broken; the next change starts it again.
      say(plan_, "waiting for a file change before starting worker " +
                     std::to_string(worker.index) + " again");
      return;
    }
    if (failed_starts_ >= kMaxFailedStarts) {
      say(plan_, "workers keep failing as they start; stopping");
      begin_stop(1);
      return;
    }
    spawn(worker.index);
  }

  // The first worker of a generation died before it accepted: the application does not load.
  // Its error was printed once (by it); the other workers were never started.
  void first_worker_failed(const std::string& what, int status) {
    std::string watching = plan_.watch_dir.empty() ? "" : " until the next file change";
    if (serving_generation_ != 0) {
      generation_ = serving_generation_;  // the reload is off; the serving workers go on
      rest_started_ = true;
      say(plan_, (said_why(status) ? std::string("the reload failed") : what) +
                     "; the old workers keep serving" + watching);
      return;
    }
    if (!said_why(status)) say(plan_, what + " before accepting connections");
    if (!plan_.watch_dir.empty()) {
      say(plan_, "waiting for a file change before starting worker 1 again");
      return;
    }
    begin_stop(1);
  }

  void scan_for_changes() {
    if (plan_.watch_dir.empty() || Clock::now() < next_scan_) return;
    next_scan_ = Clock::now() + kScanInterval;
    std::string now = python_files_fingerprint(plan_.watch_dir);
    if (now == fingerprint_) return;
    fingerprint_ = now;
    say(plan_, "a .py file changed: reloading");
    reload();
  }

  // A balance slot no live worker holds, or -1.
  int free_slot() const {
    if (!plan_.balance) return -1;
    std::set<int> taken;
    for (const auto& [pid, worker] : workers_) taken.insert(worker.slot);
    for (int slot = 0; slot < plan_.balance->slots(); ++slot) {
      if (!taken.contains(slot)) return slot;
    }
    return -1;
  }

  void spawn(int index) {
    int slot = free_slot();
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
      say(plan_, "cannot start worker " + std::to_string(index) + ": fork failed");
      return;
    }
    if (pid == 0) {
      // The child: its own process group (a terminal's Ctrl-C reaches the supervisor only,
      // which then stops the workers once), killed if the supervisor dies.
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != supervisor_pid_) _exit(1);
      sigprocmask(SIG_SETMASK, &previous_mask_, nullptr);
      close(signal_fd_);
      close(ready_pipe_[0]);
      int code = run_worker_({.index = index, .slot = slot, .ready_fd = ready_pipe_[1]});
      std::fflush(nullptr);
      _exit(code);
    }
    workers_[pid] = Worker{.index = index, .slot = slot, .generation = generation_};
  }

  const WorkerPlan& plan_;
  const RunWorker& run_worker_;
  int listen_fd_;
  pid_t supervisor_pid_ = getpid();
  sigset_t previous_mask_{};
  int signal_fd_ = -1;
  int ready_pipe_[2] = {-1, -1};  // workers write their pid once they accept
  std::map<pid_t, Worker> workers_;
  int generation_ = 0;          // the newest
  int serving_generation_ = 0;  // the newest whose workers all accepted (0: none yet)
  bool rest_started_ = false;   // the newest generation's first worker accepted
  bool announced_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;
  Clock::time_point deadline_;
  int failed_starts_ = 0;
  std::string fingerprint_;
  Clock::time_point next_scan_;
};

}  // namespace

int supervise_workers(const WorkerPlan& plan, const RunWorker& run_worker) {
  return Supervisor(plan, run_worker).run();
}

}  // namespace puff::cli
