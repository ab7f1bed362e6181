// `puff runserver --workers N`: a supervisor process (no Python) that opened the listening
// socket and forks N workers accepting on it. Each worker tells it when it accepts (a pipe).
// Workers start as a generation: one first, the others once it accepts (a broken application
// then fails once, not N times); the supervisor announces the server once all accept.
// It restarts a worker that dies; on SIGHUP it starts a new generation on the same socket
// and stops the old workers (they drain) only once every new one accepts, so nothing is
// refused meanwhile; a new generation that fails at start leaves the old one serving. On
// SIGINT/SIGTERM it stops new connections at once, lets every worker drain, then exits 0.
// With --reload it also reloads them when a .py file changes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "http/accept_balance.h"

namespace puff::cli {

struct WorkerPlan {
  int count = 2;
  int listen_fd = -1;  // the supervisor closes it when the stop begins
  double graceful_timeout_s = 30;
  std::string label;     // starts every line printed
  std::string announce;  // printed (after the label) once the first workers all accept
  // --reload: the .py files below this directory are watched; a change reloads the workers,
  // and a worker that fails at start waits for the next change instead of stopping everything.
  std::string watch_dir;
  // Where the workers publish their open connections (see http/accept_balance.h); each live
  // worker gets a slot of its own (reloads overlap old and new workers). May be null.
  std::shared_ptr<http::AcceptBalance> balance;
};

// What a forked worker gets: its number (1..N), its balance slot (-1: none was free) and the
// fd to write its pid (a native int32) to once it accepts connections.
struct WorkerSeat {
  int index = 0;
  int slot = -1;
  int ready_fd = -1;
};

// Runs in the supervisor until it stops; `run_worker` runs in each forked child and returns
// the worker's exit code: 1 means it printed why it could not start. Returns the supervisor's
// exit code.
using RunWorker = std::function<int(const WorkerSeat& seat)>;
int supervise_workers(const WorkerPlan& plan, const RunWorker& run_worker);

}  // namespace puff::cli
