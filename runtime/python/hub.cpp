#include "python/hub.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "core/log.h"
#include "core/turn_batch.h"
#include "python/greenlet_api.h"
#include "python/task.h"

namespace puff::python {
namespace {

Hub* g_instance = nullptr;

// How long IO queued by one greenlet may wait for the greenlets after it in a round: about one
// short greenlet's run, far below a round trip's cost, so batching never delays much.
constexpr std::chrono::microseconds kTurnBudget{200};

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_exit_request(PyObject* exception) {
  return PyErr_GivenExceptionMatches(exception, PyExc_KeyboardInterrupt) ||
         PyErr_GivenExceptionMatches(exception, PyExc_SystemExit);
}

}  // namespace

Hub::Hub(core::IoThreads& io) : io_(io), thread_id_(std::this_thread::get_id()) {
  if (::pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) {
    throw std::runtime_error("puff: cannot create the hub's wake-up pipe");
  }
  g_instance = this;
}

Hub::~Hub() {
  if (g_instance == this) g_instance = nullptr;
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
}

Hub* Hub::instance() { return g_instance; }

void Hub::run(PyObject* main_task, double unwind_timeout_s) {
  thread_id_ = std::this_thread::get_id();
  python_thread_ident_ = PyThread_get_thread_ident();
  hub_greenlet_ = greenlet::current();
  main_task_ = PyRef::borrow(main_task);
  // Signals (Ctrl-C) must wake the hub out of poll(): Python's C-level handler writes the
  // signal number to this fd. Only the main thread receives them.
  previous_wakeup_fd_ = compat::set_signal_wakeup_fd(wake_pipe_[1]);
  running_ = true;
  start_task(main_task);

  const TaskState& main = task_state(main_task);
  while (!main.finished) {
    run_ready();
    if (main.finished) break;
    collect_events(/*block=*/ready_.empty(), -1);
    deliver_signals();
  }
  unwind_remaining(unwind_timeout_s);
  running_ = false;
  compat::set_signal_wakeup_fd(previous_wakeup_fd_);
  ready_.clear();
  parked_.clear();
  main_task_.reset();
}

void Hub::start_task(PyObject* task_object) {
  TaskState& task = task_state(task_object);
  PyRef run = task_entry_point(task_object);
  PyRef greenlet = run ? greenlet::create(run.get(), hub_greenlet_.get()) : PyRef();
  if (greenlet &&
      PyObject_SetAttrString(greenlet.get(), "gr_context", task.context.get()) < 0) {
    greenlet.reset();
  }
  if (!greenlet) {
    // Only on memory exhaustion or a broken greenlet install: fail the task, not the hub.
    SavedException error = SavedException::fetch();
    finish_unstarted_task(task_object, error.value.get());
    return;
  }
  task.greenlet = greenlet;
  live_tasks_.emplace(task_object, PyRef::borrow(task_object));
  ready_.push_back({std::move(greenlet), PyRef::borrow(task_object), PyRef()});
}

bool Hub::park(ParkId id) {
  PyRef self = greenlet::current();
  parked_[id] = Parked{self, PyRef::borrow(current_task_.get())};
  PyRef resumed = greenlet::switch_to(hub_greenlet_.get());
  if (!resumed) {
    parked_.erase(id);
    return false;
  }
  return true;
}

bool Hub::yield_now() {
  ready_.push_back({greenlet::current(), PyRef::borrow(current_task_.get()), PyRef()});
  return static_cast<bool>(greenlet::switch_to(hub_greenlet_.get()));
}

void Hub::wake_on_hub(ParkId id) {
  auto it = parked_.find(id);
  if (it == parked_.end()) return;  // abandoned or already woken
  ready_.push_back({std::move(it->second.greenlet), std::move(it->second.task), PyRef()});
  parked_.erase(it);
}

void Hub::wake(ParkId id) {
  bool poke = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    inbox_wakes_.push_back(id);
    poke = std::exchange(sleeping_, false);
  }
  if (poke) {
    char byte = 0;
    ssize_t ignored = ::write(wake_pipe_[1], &byte, 1);  // full pipe = already poked
    (void)ignored;
  }
}

void Hub::call_soon_threadsafe(std::function<void()> fn) {
  bool poke = false;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    inbox_calls_.push_back(std::move(fn));
    poke = std::exchange(sleeping_, false);
  }
  if (poke) {
    char byte = 0;
    ssize_t ignored = ::write(wake_pipe_[1], &byte, 1);
    (void)ignored;
  }
}

void Hub::run_ready() {
  // Only what is runnable now; greenlets made ready meanwhile run after the next collection,
  // so IO completions are picked up between rounds.
  // IO the greenlets start is handed to the IO threads at the end of the round, or after a
  // greenlet that ran past the budget: commands queued back to back share a write.
  core::TurnBatch turn(kTurnBudget);
  for (size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
    Runnable runnable = std::move(ready_.front());
    ready_.pop_front();
    resume(runnable);
    turn.end_of_unit();
  }
}

void Hub::resume(Runnable& runnable) {
  PyObject* g = runnable.greenlet.get();
  if (greenlet::is_dead(g)) return;  // a late resumption of a finished greenlet
  if (!greenlet::is_started(g) && task_state(runnable.task.get()).finished) return;  // killed
  current_task_ = Borrowed(runnable.task.get());
  resume_count_.fetch_add(1, std::memory_order_relaxed);
  busy_since_ns_.store(steady_now_ns(), std::memory_order_relaxed);
  PyRef result = runnable.exception ? greenlet::throw_into(g, runnable.exception.get())
                                    : greenlet::switch_to(g);
  busy_since_ns_.store(0, std::memory_order_relaxed);
  current_task_ = Borrowed();
  // A finished task lets go of its dead greenlet now, not when the Task object goes (a caller
  // may keep that for long): what the greenlet kept, its Django connections first, is freed or
  // handed on (django_puff/db/idle_connections.py) as soon as the task ends.
  TaskState* task = runnable.task ? &task_state(runnable.task.get()) : nullptr;
  if (task && task->finished && task->greenlet.get() == g && greenlet::is_dead(g)) {
    task->greenlet.reset();
  }
  if (!result) {
    // A task's entry point catches everything, so this is a greenlet the user created with
    // the hub as parent dying with an error: report it, keep serving the others.
    if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) ||
        PyErr_ExceptionMatches(PyExc_SystemExit)) {
      SavedException exit_request = SavedException::fetch();
      throw_into_main(exit_request.value.get());
    } else {
      PyErr_WriteUnraisable(g);
    }
  }
}

void Hub::collect_events(bool block, int timeout_ms) {
  std::vector<ParkId> wakes;
  std::vector<std::function<void()>> calls;
  {
    std::unique_lock<std::mutex> lock(inbox_mutex_);
    if (block && inbox_wakes_.empty() && inbox_calls_.empty()) {
      sleeping_ = true;
      lock.unlock();
      {
        GilRelease released;
        pollfd fd{wake_pipe_[0], POLLIN, 0};
        ::poll(&fd, 1, timeout_ms);
        char drain[256];
        while (::read(wake_pipe_[0], drain, sizeof drain) > 0) {
        }
      }
      lock.lock();
      sleeping_ = false;
    }
    wakes.swap(inbox_wakes_);
    calls.swap(inbox_calls_);
  }
  for (ParkId id : wakes) wake_on_hub(id);
  for (auto& call : calls) call();
}

void Hub::deliver_signals() {
  // Python runs its signal handlers here when a signal arrived while the hub slept; an
  // exception they raise (KeyboardInterrupt, our SIGTERM's SystemExit) goes to the main task.
  if (PyErr_CheckSignals() == 0) return;
  SavedException raised = SavedException::fetch();
  throw_into_main(raised.value.get());
}

void Hub::throw_into_main(PyObject* exception) {
  if (!main_task_) return;
  const TaskState& main = task_state(main_task_.get());
  if (main.finished || !main.greenlet) return;
  // Drop any pending wake-up of the main greenlet: it resumes with the exception instead.
  for (auto it = parked_.begin(); it != parked_.end();) {
    it = (it->second.greenlet.get() == main.greenlet.get()) ? parked_.erase(it) : std::next(it);
  }
  ready_.push_front({main.greenlet, main_task_, PyRef::borrow(exception)});
}

void Hub::task_finished(PyObject* task, PyObject* exception) {
  // The hub's reference goes (the caller holds one until the greenlet returns).
  live_tasks_.erase(task);
  if (exception && task != main_task_.get() && is_exit_request(exception)) {
    task_state(task).exception_retrieved = true;
    throw_into_main(exception);
  }
}

void Hub::unwind_remaining(double timeout_s) {
  if (live_tasks_.empty()) return;
  core::log_debug("unwinding ", live_tasks_.size(), " task(s) still alive after the main task");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  std::unordered_set<PyObject*> thrown;
  while (!live_tasks_.empty() && std::chrono::steady_clock::now() < deadline) {
    std::vector<PyRef> snapshot;
    for (const auto& [key, task] : live_tasks_) snapshot.push_back(task);
    for (PyRef& task_ref : snapshot) {
      TaskState* task = &task_state(task_ref.get());
      if (task->finished || thrown.count(task_ref.get())) continue;
      thrown.insert(task_ref.get());
      PyRef exit = PyRef::steal(PyObject_CallNoArgs(greenlet::greenlet_exit_type()));
      if (!exit) {
        PyErr_Clear();
        continue;
      }
      if (!greenlet::is_started(task->greenlet.get())) {
        finish_unstarted_task(task_ref.get(), exit.get());
        continue;
      }
      for (auto it = parked_.begin(); it != parked_.end();) {
        it = (it->second.greenlet.get() == task->greenlet.get()) ? parked_.erase(it)
                                                                 : std::next(it);
      }
      Runnable kill{task->greenlet, task_ref, exit};
      resume(kill);
    }
    // Let killed tasks finish their cleanup (a finally: that waits) within the deadline.
    run_ready();
    if (!live_tasks_.empty()) collect_events(ready_.empty(), 20);
  }
  if (!live_tasks_.empty()) {
    core::log_warning(live_tasks_.size(),
                      " task(s) ignored GreenletExit and were abandoned at shutdown");
    live_tasks_.clear();
  }
}

}  // namespace puff::python
