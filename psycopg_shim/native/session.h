// What a PGConn holds (its session) and the steps every operation on it takes: one operation at
// a time (OperationLock), a server connection borrowed for pooled sessions (borrow/give_back),
// waits that close the session when interrupted (await_on_session). Shared by pg_conn.cpp and copy.cpp.
// Python-facing: GIL held.
#pragma once

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pg/connection.h"
#include "pg/pool.h"
#include "python/native_io.h"
#include "python/kit/await_native.h"
#include "python/kit/types.h"
#include "python/pyref.h"

namespace puff::psycopg {

// A session is dedicated (psycopg2's model: `conn` for the object's life) or pooled: `conn` is
// borrowed from `pool` by the first statement and given back by release() (the package calls
// it when the transaction is over), so many PGConns share few server connections.
struct State {
  // Plain python, dedicated session: the connection's own io_context, run by the waiting thread
  // (declared first: destroyed after the connection, once its handlers have run).
  std::unique_ptr<boost::asio::io_context> own_io;
  std::shared_ptr<pg::Connection> conn;  // dedicated, or the leased one (null between leases)
  std::shared_ptr<pg::Pool> pool;
  pg::Lease lease;
  std::mutex op_mutex;  // one operation at a time
  std::atomic<std::thread::id> op_thread;  // the thread holding op_mutex (none when free)
  unsigned fork_generation = python::fork_generation();  // which process made the session
  bool closed = false;  // close() was called or an interrupted wait closed it
  // A pooled session between leases answers with its last connection's connect-time facts
  // (the pool's sessions are configured alike); those never change, so reading them while
  // another session uses that connection is safe.
  std::shared_ptr<pg::Connection> last;
};

using ConnObject = python::NativeObject<State>;

inline State& state_of(PyObject* self) { return python::state_of<State>(self); }

// Remembers what a pooled session answers between leases.
void remember_session(State& s);
// Runs what is left on a private io_context (the close) so that no handler outlives it.
void finish_own_io(State& s);
// false with InterfaceError set when the session cannot run statements (closed, forked).
bool usable(State& s);
// Pooled sessions: borrow a server connection for the coming statements. false = exception.
bool borrow(State& s);
void give_back(State& s);

// Holds State::op_mutex for one operation.
class OperationLock {
 public:
  explicit OperationLock(State& s);
  ~OperationLock();
  bool held() const { return held_; }

 private:
  State& state_;
  bool held_ = false;
};

// Runs `start(deliver)` on the session's connection and waits for what it delivers
// (python/kit/await_native.h). On interrupt (Ctrl-C, a killed greenlet) the session is closed:
// its state is unknown and nothing else may wait on it; nullopt then, with the exception set.
template <class... Results, class Start>
auto await_on_session(State& s, Start&& start) {
  auto conn = s.conn;
  auto delivered = python::await_native<Results...>(
      std::forward<Start>(start), [conn] { conn->close(); }, s.own_io.get());
  if (!delivered) s.closed = true;
  return delivered;
}

}  // namespace puff::psycopg
