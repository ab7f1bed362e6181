// The bounded thread pool behind @puff.blocking / puff.run_blocking: code that would stall the
// hub (blocking libraries, CPU-heavy C calls that release the GIL) runs here while the calling
// greenlet parks. Threads start on demand up to `size` and are reused (never one per call).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "python/pyref.h"

namespace puff::python {

class BlockingPool {
 public:
  explicit BlockingPool(int size);
  ~BlockingPool();  // stop() must have been called
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  static BlockingPool* instance();

  // Queues `job`; a pool thread runs it holding the GIL. `job` is destroyed with the GIL held.
  // GIL held by the caller.
  void submit(std::function<void()> job);
  // Finishes the queued jobs' threads and joins them. Caller holds the GIL (released inside).
  void stop();
  int size() const { return size_; }
  int threads_started() const;

 private:
  void worker();

  int size_;
  mutable std::mutex mutex_;
  std::condition_variable work_available_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  int idle_ = 0;
  bool stopping_ = false;
};

// puff.run_blocking(fn, *args, **kwargs): in a hub task runs fn on the pool and parks the
// greenlet; elsewhere calls fn directly. New reference or nullptr with an exception set.
PyObject* run_blocking(PyObject* function, PyObject* args, PyObject* kwargs);

}  // namespace puff::python
