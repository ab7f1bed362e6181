#include "connection_io.h"

#include <pthread.h>

#include <mutex>

#include "core/io_threads.h"
#include "python/hub.h"

namespace puff::psycopg {
namespace {

std::mutex own_mutex;
core::IoThreads* own = nullptr;  // deliberately leaked: it must outlive every connection

void forget_after_fork() {
  // The child has no IO thread: start a new one on next use. Connections opened before the
  // fork refuse to work in the child (pg_conn checks the pid), like psycopg2's do.
  new (&own_mutex) std::mutex;
  own = nullptr;
}

}  // namespace

boost::asio::io_context& connection_io() {
  if (python::Hub* hub = python::Hub::instance()) return hub->io().context();
  std::lock_guard lock(own_mutex);
  if (!own) {
    static bool registered = (pthread_atfork(nullptr, nullptr, forget_after_fork), true);
    (void)registered;
    own = new core::IoThreads(1);
  }
  return own->context();
}

}  // namespace puff::psycopg
