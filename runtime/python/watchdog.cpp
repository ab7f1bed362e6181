#include "python/watchdog.h"

#include <pthread.h>

#include <chrono>
#include <csignal>

#include "python/hub.h"
#include "python/pyref.h"

namespace puff::python {
namespace {

long long steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(Hub& hub, int threshold_ms) : hub_(hub), threshold_ms_(threshold_ms) {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  thread_ = std::thread([this] { watch(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

Watchdog::~Watchdog() {
  if (thread_.joinable()) std::terminate();  // stop() first: it needs the GIL dance
}

void Watchdog::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
  }
  GilRelease released;
  if (thread_.joinable()) thread_.join();
}

void Watchdog::watch() {
  pthread_setname_np(pthread_self(), "puff-watchdog");
  const auto period = std::chrono::milliseconds(std::max(5, threshold_ms_ / 4));
  std::uint64_t reported = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    long long since = hub_.busy_since_ns();
    std::uint64_t count = hub_.resume_count();
    if (since == 0 || count == reported) continue;
    long long stalled_ms = (steady_now_ns() - since) / 1000000;
    if (stalled_ms < threshold_ms_) continue;
    reported = count;  // one warning per stall
    lock.unlock();
    report(count, stalled_ms);
    lock.lock();
  }
}

void Watchdog::report(std::uint64_t resume_count, long long stalled_ms) {
  // Taking the GIL makes a CPU-bound greenlet yield it at the next switch interval, so its
  // frame is where it is stuck; a greenlet in time.sleep has released it already.
  GilAcquire gil;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
  }
  if (hub_.resume_count() != resume_count || hub_.busy_since_ns() == 0) return;  // it moved on
  SavedException pending = SavedException::fetch();
  PyObject* task = hub_.current_task();
  PyRef task_repr = PyRef::steal(task ? PyObject_Repr(task) : PyUnicode_FromString("?"));
  PyRef frames = PyRef::steal(PySys_GetObject("_current_frames")
                                  ? PyObject_CallNoArgs(PySys_GetObject("_current_frames"))
                                  : nullptr);
  PyRef ident = PyRef::steal(PyLong_FromUnsignedLong(hub_.python_thread_ident()));
  PyObject* frame = frames && ident ? PyDict_GetItem(frames.get(), ident.get()) : nullptr;
  PyRef stack;
  if (frame) {
    PyRef traceback_module = PyRef::steal(PyImport_ImportModule("traceback"));
    PyRef lines = PyRef::steal(traceback_module ? PyObject_CallMethod(traceback_module.get(),
                                                                      "format_stack", "O", frame)
                                                : nullptr);
    PyRef empty = PyRef::steal(PyUnicode_FromString(""));
    if (lines && empty) stack = PyRef::steal(PyUnicode_Join(empty.get(), lines.get()));
  }
  if (!stack) {
    PyErr_Clear();
    stack = PyRef::steal(PyUnicode_FromString("  (stack not available)\n"));
  }
  PyRef logging = PyRef::steal(PyImport_ImportModule("logging"));
  PyRef logger = PyRef::steal(
      logging ? PyObject_CallMethod(logging.get(), "getLogger", "s", "puff.watchdog") : nullptr);
  PyRef logged = PyRef::steal(
      logger ? PyObject_CallMethod(logger.get(), "warning", "sLOiO",
                                   "the hub has been blocked for %d ms by %s (threshold %d ms): "
                                   "it serves nobody else meanwhile. Move blocking calls to "
                                   "@puff.blocking / puff.run_blocking. Its stack:\n%s",
                                   stalled_ms, task_repr.get(), threshold_ms_, stack.get())
             : nullptr);
  if (!logged) PyErr_Clear();
  if (pending.value) pending.restore();
}

}  // namespace puff::python
