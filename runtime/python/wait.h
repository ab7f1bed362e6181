// The one wait primitive of native operations (timers now; Postgres and Redis later).
// In a hub task the calling greenlet parks and the hub runs others; anywhere else (plain
// python, a blocking-pool thread) the thread blocks with the GIL released.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace puff::python {

struct WaitState;

// Handed to a native operation; complete() is called once, from any thread, without the GIL.
class Completion {
 public:
  explicit Completion(std::shared_ptr<WaitState> state) : state_(std::move(state)) {}
  void complete() const;

 private:
  std::shared_ptr<WaitState> state_;
};

// Calls start(completion) and waits until the operation calls completion.complete().
// Returns false with a Python exception set when the wait was interrupted (the greenlet was
// killed or Ctrl-C arrived); `abandon` (if given) is called then, to cancel the operation.
// The operation must own everything it touches (heap state captured by its handlers): a
// suspended greenlet's stack is copied away, so nothing may point into it. GIL held.
// `drive`: outside the hub, the operation's io_context is run on the waiting thread itself (a
// connection with its own io_context: no thread hop per operation, like a blocking driver).
bool wait_native(const std::function<void(Completion)>& start,
                 const std::function<void()>& abandon = {},
                 boost::asio::io_context* drive = nullptr);

// Seconds from Python as a timer duration, clamped so that huge values and inf mean "about a
// century" instead of overflowing the clock's 64-bit nanoseconds (undefined behaviour).
std::chrono::steady_clock::duration to_timer_duration(double seconds);

// puff.sleep: a native timer in the hub, time.sleep elsewhere. GIL held; false = exception.
bool sleep_for(double seconds);

}  // namespace puff::python
