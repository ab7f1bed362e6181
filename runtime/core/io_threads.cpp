#include "core/io_threads.h"

#include <pthread.h>
#include <sched.h>


#include <csignal>
#include <exception>

#include "core/log.h"

namespace puff::core {

IoThreads::IoThreads(int count) : work_(boost::asio::make_work_guard(context_)) {
  if (count <= 0) {
    // The hub thread keeps a core busy. More IO threads than the other cores cost more than
    // they give: threads sharing one io_context hand operations to each other (a futex
    // wake-up each); 1 worker on 2 cores, json view: 4.9 -> 1.4 sleeps per request.
    count = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()) - 1);
  }
  // IO threads must not receive process signals: those belong to the hub (Python's handlers).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  threads_.reserve(count);
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), ("puff-io-" + std::to_string(i)).c_str());
      // SCHED_BATCH: a waking IO thread does not preempt the running hub (its readiness
      // events wait for the hub to sleep or its time slice to end, and come in batches).
      // Under load the hub was preempted 1-1.5 times per request; 2 workers on 2 cores:
      // db +12%, plaintext +6-45%, io-wait +18-28%, p99 lower in each.
      sched_param param{};
      pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
      for (;;) {
        try {
          context_.run();
          return;
        } catch (const std::exception& e) {
          // A handler that throws is a bug; keep the thread serving the others.
          log_error("io thread: uncaught exception in a handler: ", e.what());
        }
      }
    });
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

IoThreads::~IoThreads() { stop(); }

void IoThreads::stop() {
  work_.reset();
  context_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace puff::core
