#include "python/native_io.h"

#include <pthread.h>

#include <atomic>
#include <mutex>

#include "core/io_threads.h"
#include "python/hub.h"

namespace puff::python {
namespace {

std::atomic<unsigned> forks_seen{0};
void count_fork_in_child() { forks_seen.fetch_add(1, std::memory_order_relaxed); }

std::mutex own_mutex;
core::IoThreads* own = nullptr;  // deliberately leaked: it must outlive every connection

void forget_after_fork() {
  // The child has no IO thread: start a new one on next use. Connections opened before the
  // fork refuse to work in the child (see fork_generation), like psycopg2's do.
  new (&own_mutex) std::mutex;
  own = nullptr;
}

}  // namespace

boost::asio::io_context& native_io() {
  if (Hub* hub = Hub::instance()) return hub->io().context();
  std::lock_guard lock(own_mutex);
  if (!own) {
    static bool registered = (pthread_atfork(nullptr, nullptr, forget_after_fork), true);
    (void)registered;
    own = new core::IoThreads(1);
  }
  return own->context();
}

unsigned fork_generation() {
  static bool registered = (pthread_atfork(nullptr, nullptr, count_fork_in_child), true);
  (void)registered;
  return forks_seen.load(std::memory_order_relaxed);
}

}  // namespace puff::python
