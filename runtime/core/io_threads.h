// The IO threads: one io_context run by N threads. Sockets, timers and (later) libpq, Redis and
// HTTP live here. IO threads never run Python.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>
#include <vector>

namespace puff::core {

class IoThreads {
 public:
  // `count` 0 means one per core but one (the hub thread's), at least 1.
  explicit IoThreads(int count);
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  boost::asio::io_context& context() { return context_; }
  int size() const { return static_cast<int>(threads_.size()); }

  // Stops the context and joins the threads; pending handlers are destroyed, never run.
  void stop();

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

}  // namespace puff::core
