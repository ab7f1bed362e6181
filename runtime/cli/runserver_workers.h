// `puff runserver --workers N`: a supervisor process (no Python) that opened the listening
// socket and forks N workers accepting on it. It restarts a worker that dies, reloads them all
// on SIGHUP (new workers first, then the old ones drain), and on SIGINT/SIGTERM lets every
// worker drain, then exits 0. With --reload it also reloads them when a .py file changes.
#pragma once

#include <functional>
#include <string>

namespace puff::cli {

struct WorkerPlan {
  int count = 2;
  int listen_fd = -1;
  double graceful_timeout_s = 30;
  std::string label;  // starts every line printed
  // --reload: the .py files below this directory are watched; a change reloads the workers,
  // and a worker that fails at start waits for the next change instead of stopping everything.
  std::string watch_dir;
};

// Runs in the supervisor until it stops; `run_worker(index)` runs in each forked child and
// returns the worker's exit code. Returns the supervisor's exit code.
int supervise_workers(const WorkerPlan& plan, const std::function<int(int index)>& run_worker);

}  // namespace puff::cli
