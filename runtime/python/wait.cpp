#include "python/wait.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/turn_batch.h"
#include "python/hub.h"
#include "python/pyref.h"

namespace puff::python {

struct WaitState {
  std::atomic<bool> done{false};
  Hub* hub = nullptr;  // set: a parked greenlet waits under park_id
  ParkId park_id = 0;
  std::mutex mutex;    // otherwise a thread waits on `finished`
  std::condition_variable finished;
};

void Completion::complete() const {
  if (state_->done.exchange(true)) return;
  if (state_->hub) {
    state_->hub->wake(state_->park_id);
  } else {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->finished.notify_all();
  }
}

namespace {

bool wait_in_hub(Hub& hub, const std::function<void(Completion)>& start,
                 const std::function<void()>& abandon) {
  auto state = std::make_shared<WaitState>();
  state->hub = &hub;
  state->park_id = hub.new_park_id();
  start(Completion(state));
  while (!state->done.load()) {
    if (!hub.park(state->park_id)) {
      if (abandon) abandon();
      return false;
    }
  }
  return true;
}

// Runs `io` on this thread until the operation completes (GIL released), checking signals
// every 100 ms as wait_blocking does.
bool wait_driving(boost::asio::io_context& io, const std::function<void(Completion)>& start,
                  const std::function<void()>& abandon) {
  auto state = std::make_shared<WaitState>();
  start(Completion(state));
  core::TurnBatch::flush_current();  // on the hub thread the operation may still be held there
  for (;;) {
    {
      GilRelease released;
      io.restart();
      io.run_for(std::chrono::milliseconds(100));
    }
    if (state->done.load()) return true;
    if (PyErr_CheckSignals() < 0) {
      if (abandon) abandon();
      GilRelease released;
      io.restart();
      io.run_for(std::chrono::seconds(1));  // let the abandoned operation wind down
      return false;
    }
  }
}

bool wait_blocking(const std::function<void(Completion)>& start,
                   const std::function<void()>& abandon) {
  auto state = std::make_shared<WaitState>();
  start(Completion(state));
  core::TurnBatch::flush_current();  // on the hub thread the operation may still be held there
  // Wake up now and then to run signal handlers (a no-op off the main thread), so Ctrl-C
  // interrupts a blocking wait in plain python as it interrupts time.sleep.
  for (;;) {
    {
      GilRelease released;
      std::unique_lock<std::mutex> lock(state->mutex);
      state->finished.wait_for(lock, std::chrono::milliseconds(100),
                               [&] { return state->done.load(); });
    }
    if (state->done.load()) return true;
    if (PyErr_CheckSignals() < 0) {
      if (abandon) abandon();
      return false;
    }
  }
}

}  // namespace

bool wait_native(const std::function<void(Completion)>& start,
                 const std::function<void()>& abandon, boost::asio::io_context* drive) {
  Hub* hub = Hub::instance();
  if (hub && hub->in_task()) return wait_in_hub(*hub, start, abandon);
  if (drive) return wait_driving(*drive, start, abandon);
  return wait_blocking(start, abandon);
}

std::chrono::steady_clock::duration to_timer_duration(double seconds) {
  constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds < kMaxSeconds ? seconds : kMaxSeconds));
}

bool sleep_for(double seconds) {
  Hub* hub = Hub::instance();
  if (!hub || !hub->in_task()) {
    PyRef time = PyRef::steal(PyImport_ImportModule("time"));
    if (!time) return false;
    PyRef result = PyRef::steal(PyObject_CallMethod(time.get(), "sleep", "d", seconds));
    return static_cast<bool>(result);
  }
  if (seconds <= 0) return hub->yield_now();
  auto timer =
      std::make_shared<boost::asio::steady_timer>(hub->io().context(), to_timer_duration(seconds));
  return wait_native(
      [&timer](Completion done) {
        timer->async_wait([timer, done](const boost::system::error_code&) { done.complete(); });
      },
      [&timer, hub] {
        // A killed sleeper: cancel on the timer's own executor (timers aren't thread-safe).
        boost::asio::post(hub->io().context(), [timer] { timer->cancel(); });
      });
}

}  // namespace puff::python
