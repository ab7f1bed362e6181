#include "cli/runserver_workers.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <cstring>
#include <map>
#include <string>

namespace puff::cli {
namespace {

using Clock = std::chrono::steady_clock;

// A worker that dies this soon after it started counts as failing at start; this many such
// deaths in a row stop the supervisor (a broken application would otherwise fork forever).
constexpr auto kQuickDeath = std::chrono::seconds(2);
constexpr int kMaxQuickDeaths = 5;
constexpr auto kScanInterval = std::chrono::milliseconds(500);

struct Worker {
  int index = 0;
  int slot = -1;  // in the plan's AcceptBalance
  Clock::time_point started;
  bool old = false;  // replaced by a reload: draining, not restarted
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

class Supervisor {
 public:
  Supervisor(const WorkerPlan& plan, const RunWorker& run_worker)
      : plan_(plan), run_worker_(run_worker) {}

  int run() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
    sigprocmask(SIG_BLOCK, &signals, &previous_mask_);
    for (int i = 1; i <= plan_.count; ++i) spawn(i);
    if (!plan_.watch_dir.empty()) {
      fingerprint_ = python_files_fingerprint(plan_.watch_dir);
      next_scan_ = Clock::now() + kScanInterval;
    }
    int exit_code = 0;
    bool stopping = false;
    Clock::time_point deadline;
    while (!workers_.empty() || !stopping) {
      timespec tick{0, 200 * 1000 * 1000};
      int signum = sigtimedwait(&signals, nullptr, &tick);
      if (signum == SIGCHLD || signum < 0) {
        if (!reap(stopping)) {
          say(plan_, "workers keep failing as they start; stopping");
          exit_code = 1;
          if (!stopping) deadline = stop_all(SIGTERM);
          stopping = true;
        }
      } else if (signum == SIGHUP && !stopping) {
        say(plan_, "SIGHUP");
        reload();
      } else if (signum == SIGINT || signum == SIGTERM) {
        if (!stopping) {
          say(plan_, "stopping: the workers finish the requests in flight (up to " +
                         std::to_string(static_cast<int>(plan_.graceful_timeout_s)) + " s)");
          deadline = stop_all(SIGTERM);
          stopping = true;
        } else {
          say(plan_, "stopping now (second signal)");
          stop_all(SIGINT);  // a worker's second signal: it stops at once
          stop_all(SIGINT);
        }
      }
      if (!stopping && !plan_.watch_dir.empty() && Clock::now() >= next_scan_) {
        next_scan_ = Clock::now() + kScanInterval;
        std::string now = python_files_fingerprint(plan_.watch_dir);
        if (now != fingerprint_) {
          fingerprint_ = now;
          say(plan_, "a .py file changed: reloading");
          reload();
        }
      }
      if (stopping && !workers_.empty() && Clock::now() > deadline) {
        say(plan_, "workers still running after graceful_timeout_s; killing them");
        stop_all(SIGKILL);
        deadline = Clock::now() + std::chrono::seconds(5);
      }
    }
    sigprocmask(SIG_SETMASK, &previous_mask_, nullptr);
    say(plan_, "stopped");
    return exit_code;
  }

 private:
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
      int code = run_worker_(index, slot);
      std::fflush(nullptr);
      _exit(code);
    }
    workers_[pid] = Worker{index, slot, Clock::now(), false};
  }

  // Reaps dead workers and restarts the current ones; false when they keep dying at start.
  bool reap(bool stopping) {
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return true;
      auto it = workers_.find(pid);
      if (it == workers_.end()) continue;
      Worker worker = it->second;
      workers_.erase(it);
      // A worker that died did not say it stopped accepting.
      if (plan_.balance) plan_.balance->leave(worker.slot);
      if (stopping || worker.old) continue;
      bool quick = Clock::now() - worker.started < kQuickDeath;
      quick_deaths_ = quick ? quick_deaths_ + 1 : 0;
      say(plan_, "worker " + std::to_string(worker.index) + " (pid " + std::to_string(pid) +
                     ") " + describe(status) + "; starting a new one");
      if (!plan_.watch_dir.empty() && quick) {
        // Development: the code is likely broken; the next change starts it again.
        say(plan_, "waiting for a file change before starting worker " +
                       std::to_string(worker.index) + " again");
        waiting_for_change_.insert(worker.index);
        continue;
      }
      if (quick_deaths_ >= kMaxQuickDeaths) return false;
      spawn(worker.index);
    }
  }

  void reload() {
    say(plan_, "reloading: starting new workers, then stopping the old ones");
    std::map<pid_t, Worker> old;
    for (auto& [pid, worker] : workers_) {
      worker.old = true;
      old[pid] = worker;
    }
    waiting_for_change_.clear();
    quick_deaths_ = 0;
    for (int i = 1; i <= plan_.count; ++i) spawn(i);
    for (auto& [pid, worker] : old) kill(pid, SIGTERM);
  }

  Clock::time_point stop_all(int signum) {
    for (auto& [pid, worker] : workers_) kill(pid, signum);
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(plan_.graceful_timeout_s + 5));
  }

  const WorkerPlan& plan_;
  const RunWorker& run_worker_;
  pid_t supervisor_pid_ = getpid();
  sigset_t previous_mask_{};
  std::map<pid_t, Worker> workers_;
  int quick_deaths_ = 0;
  std::string fingerprint_;
  Clock::time_point next_scan_;
  std::set<int> waiting_for_change_;
};

}  // namespace

int supervise_workers(const WorkerPlan& plan, const RunWorker& run_worker) {
  return Supervisor(plan, run_worker).run();
}

}  // namespace puff::cli
