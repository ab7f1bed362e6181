// The hub: one OS thread runs all Python; every unit of work is a greenlet (a Task). When a
// greenlet waits on native IO it parks (switches to the hub greenlet); IO threads wake it by
// id through a thread-safe queue; when nothing is runnable the hub sleeps in poll(2) with the
// GIL released. See runtime/python/README.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/io_threads.h"
#include "python/pyref.h"

namespace puff::python {

// Identifies one parked wait. Unique for the hub's life, so a late wake-up of a wait that was
// abandoned (its greenlet was killed) finds nothing and is dropped.
using ParkId = std::uint64_t;

class Hub {
 public:
  explicit Hub(core::IoThreads& io);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // The hub of this process while one exists, else nullptr.
  static Hub* instance();

  // Runs `main_task` and everything it spawns until main_task finishes, then unwinds the tasks
  // still alive (GreenletExit) within `unwind_timeout_s`. Hub thread, GIL held.
  void run(PyObject* main_task, double unwind_timeout_s = 5.0);

  // ---- hub thread, GIL held ----
  bool on_hub_thread() const { return std::this_thread::get_id() == thread_id_; }
  // True when the caller may park: on the hub thread, inside a task's greenlet.
  bool in_task() const { return running_ && on_hub_thread() && current_task_; }
  PyObject* current_task() const { return current_task_.get(); }  // nullptr in the hub
  bool running() const { return running_; }

  void start_task(PyObject* task);  // a new Task (task.h) becomes runnable
  ParkId new_park_id() { return next_park_id_++; }
  // Parks the current greenlet until wake(id). Returns false with the Python exception set
  // when an exception was thrown into it instead (kill, Ctrl-C). A greenlet can be resumed
  // early by someone else's switch: callers re-check their condition and park again.
  bool park(ParkId id);
  // puff.sleep(0): lets every other runnable greenlet run once.
  bool yield_now();
  // Wakes a parked greenlet from the hub thread itself (cheaper than wake()).
  void wake_on_hub(ParkId id);
  void task_finished(PyObject* task, PyObject* exception);
  int live_tasks() const { return static_cast<int>(live_tasks_.size()); }

  // ---- any thread, GIL not needed ----
  void wake(ParkId id);
  // Runs `fn` on the hub thread with the GIL held, soon. `fn` is destroyed with the GIL held.
  void call_soon_threadsafe(std::function<void()> fn);

  core::IoThreads& io() { return io_; }

  // For the watchdog (any thread): when the hub switched into the greenlet now running
  // (steady clock ns; 0 while the hub itself runs or sleeps) and a counter of such switches.
  std::int64_t busy_since_ns() const { return busy_since_ns_.load(std::memory_order_relaxed); }
  std::uint64_t resume_count() const { return resume_count_.load(std::memory_order_relaxed); }
  unsigned long python_thread_ident() const { return python_thread_ident_; }

 private:
  struct Runnable {
    PyRef greenlet;
    PyRef task;       // the Task the greenlet belongs to (for current_task_)
    PyRef exception;  // thrown into the greenlet instead of switching, when set
  };
  struct Parked {
    PyRef greenlet;
    PyRef task;
  };

  void run_ready();
  void resume(Runnable& runnable);
  // Moves wake-ups and calls from other threads into the ready queue. When `block` and nothing
  // is pending, sleeps in poll(2) with the GIL released, up to timeout_ms (-1 = forever).
  void collect_events(bool block, int timeout_ms);
  void deliver_signals();
  void throw_into_main(PyObject* exception);
  void unwind_remaining(double timeout_s);

  core::IoThreads& io_;
  std::thread::id thread_id_;
  unsigned long python_thread_ident_ = 0;
  bool running_ = false;
  PyRef hub_greenlet_;
  PyRef main_task_;
  Borrowed current_task_;  // from the Runnable being resumed, for its resumption only
  std::deque<Runnable> ready_;
  std::unordered_map<ParkId, Parked> parked_;
  std::unordered_map<PyObject*, PyRef> live_tasks_;  // started and not finished, by identity
  ParkId next_park_id_ = 1;

  // Cross-thread inbox, guarded by inbox_mutex_.
  std::mutex inbox_mutex_;
  std::vector<ParkId> inbox_wakes_;
  std::vector<std::function<void()>> inbox_calls_;
  bool sleeping_ = false;  // the hub is (about to be) in poll(); a wake must write the pipe
  int wake_pipe_[2] = {-1, -1};
  int previous_wakeup_fd_ = -1;

  std::atomic<std::int64_t> busy_since_ns_{0};
  std::atomic<std::uint64_t> resume_count_{0};
};

}  // namespace puff::python
