// A thread that runs many short units of work back to back (the hub running its ready
// greenlets) opens a turn; IO started during the turn is handed to the IO threads when the
// turn ends (or its time budget runs out): 1000 greenlets queueing a Redis command each make a
// few writes and IO-thread wake-ups, not up to 1000, whatever the IO threads' timing.
// Only the hand-off is deferred, never the queueing itself, so order is unchanged.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

namespace puff::core {

class TurnBatch {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens a turn on this thread; one at a time per thread.
  explicit TurnBatch(Clock::duration budget);
  ~TurnBatch();  // runs what is deferred
  TurnBatch(const TurnBatch&) = delete;
  TurnBatch& operator=(const TurnBatch&) = delete;

  // Between two units of work: hands off what is deferred once the oldest has waited the
  // budget (a long unit of work does not hold back the IO queued before it).
  void end_of_unit();

  // Runs `hand_off` at the end of this thread's open turn, or now when none is open.
  static void defer(std::function<void()> hand_off);
  // Runs what this thread's open turn deferred, now: before anything that blocks the thread
  // waiting on IO (which might be the deferred IO itself).
  static void flush_current();

 private:
  void flush();

  Clock::duration budget_;
  Clock::time_point oldest_{};
  std::vector<std::function<void()>> deferred_;
};

}  // namespace puff::core
