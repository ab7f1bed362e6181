#include "session.h"

#include <atomic>
#include <optional>

#include "native_error.h"
#include "python/hub.h"

namespace puff::psycopg {
void remember_session(State& s) { s.last = s.conn; }

void finish_own_io(State& s) {
  if (!s.own_io) return;
  python::GilRelease released;
  s.own_io->restart();
  s.own_io->run();
}

bool usable(State& s) {
  if (s.fork_generation != python::fork_generation()) {
    raise_interface("this connection was opened before fork(); open a new one in the child");
    return false;
  }
  if (s.closed || (s.conn && !s.pool && !s.conn->is_open())) {
    raise_interface("connection already closed");
    return false;
  }
  return true;
}

OperationLock::OperationLock(State& s) : state_(s) {
  if (!s.op_mutex.try_lock()) {
    python::Hub* hub = python::Hub::instance();
    if (hub && hub->in_task()) {
      // Waiting would block the hub thread that the other greenlet needs to finish.
      raise_interface(
          "another greenlet is using this connection; use one connection per greenlet (Django "
          "does) or a pool");
      return;
    }
    if (s.op_thread.load() == std::this_thread::get_id()) {
      // This thread's own operation is running Python (a COPY's file): waiting would hang.
      raise_interface(
          "this connection is busy with an operation of this thread: a COPY's file object "
          "cannot use the connection it is copying on");
      return;
    }
    python::GilRelease released;
    s.op_mutex.lock();
  }
  s.op_thread.store(std::this_thread::get_id());
  held_ = true;
}

OperationLock::~OperationLock() {
  if (!held_) return;
  state_.op_thread.store(std::thread::id());
  state_.op_mutex.unlock();
}

bool borrow(State& s) {
  if (!s.pool || s.conn) return true;
  if (std::optional<pg::Lease> now = s.pool->try_acquire_now()) {
    s.lease = std::move(*now);
    s.conn = s.lease.connection().shared_from_this();
    return true;
  }
  auto pool = s.pool;
  // An interrupted wait leaves the slot to the pool's callback: a lease that arrives late goes
  // straight back to the pool when the slot dies.
  auto leased = python::await_native<std::optional<pg::Error>, pg::Lease>(
      [&](auto deliver) { pool->acquire(std::move(deliver)); });
  if (!leased) return false;
  auto& [error, lease] = *leased;
  if (error) {
    raise_native(*error);
    return false;
  }
  s.lease = std::move(lease);
  s.conn = s.lease.connection().shared_from_this();
  return true;
}

void give_back(State& s) {
  if (!s.pool || !s.conn) return;
  remember_session(s);  // while leased the getters read the live connection
  s.conn.reset();
  s.lease.release();  // rolled back by the pool if a transaction was left open
}

}  // namespace puff::psycopg
