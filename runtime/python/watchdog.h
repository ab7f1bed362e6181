// Warns when the hub has not come back from one greenlet for longer than a threshold: that
// greenlet is blocking every other request (time.sleep, a blocking library, a CPU loop). Logs
// one warning per stall through Python's logging ("puff.watchdog") with the greenlet's stack.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace puff::python {

class Hub;

class Watchdog {
 public:
  Watchdog(Hub& hub, int threshold_ms);
  ~Watchdog();  // stop() must have been called
  // Joins the watchdog thread. Caller holds the GIL (released inside: the thread may wait
  // for it).
  void stop();

 private:
  void watch();
  void report(std::uint64_t resume_count, long long stalled_ms);

  Hub& hub_;
  int threshold_ms_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace puff::python
