// `puff runserver --workers N`: a supervisor process (no Python) that opened the listening
// socket and forks N workers accepting on it. It restarts a worker that dies, reloads them all
// on SIGHUP (new workers first, then the old ones drain), and on SIGINT/SIGTERM lets every
// worker drain, then exits 0. With --reload it also reloads them when a .py file changes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "http/accept_balance.h"

namespace puff::cli {

struct WorkerPlan {
  int count = 2;
  int listen_fd = -1;
  double graceful_timeout_s = 30;
  std::string label;  // starts every line printed
  // --reload: the .py files below this directory are watched; a change reloads the workers,
  // and a worker that fails at start waits for the next change instead of stopping everything.
  std::string watch_dir;
  // Where the workers publish their open connections (see http/accept_balance.h); each live
  // worker gets a slot of its own (reloads overlap old and new workers). May be null.
  std::shared_ptr<http::AcceptBalance> balance;
};

// Runs in the supervisor until it stops; `run_worker(index, slot)` runs in each forked child
// and returns the worker's exit code (slot: its balance slot, -1 when none was free). Returns
// the supervisor's exit code.
using RunWorker = std::function<int(int index, int slot)>;
int supervise_workers(const WorkerPlan& plan, const RunWorker& run_worker);

}  // namespace puff::cli
