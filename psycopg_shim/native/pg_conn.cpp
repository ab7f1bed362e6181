#include "pg_conn.h"

#include <unistd.h>

#include <exception>
#include <memory>
#include <mutex>
#include <string>

#include "copy.h"
#include "native_error.h"
#include "pg/connection.h"
#include "pg/pool.h"
#include "pg/pool_registry.h"
#include "pg_result.h"
#include "pool_stats.h"
#include "python/hub.h"
#include "python/kit/types.h"
#include "session.h"

namespace puff::psycopg {
namespace {

python::Pinned<PyTypeObject> conn_type;

void dealloc(PyObject* self) {
  if (State* s = reinterpret_cast<ConnObject*>(self)->state) {
    // A dedicated session closes; a pooled one goes back to its pool (Lease's destructor).
    if (!s->pool && s->conn && !s->closed) s->conn->close();
    finish_own_io(*s);
  }
  python::native_dealloc<State>(self);
}

PyObject* connect(PyObject*, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"conninfo", "connect_timeout", nullptr};
  const char* conninfo;
  double connect_timeout = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|d", const_cast<char**>(keywords), &conninfo,
                                   &connect_timeout)) {
    return nullptr;
  }
  python::PyRef self = python::make_native(conn_type, std::make_unique<State>());
  State& state = state_of(self.get());
  pg::ConnectOptions options;
  options.conninfo = conninfo;
  // libpq's connect_timeout (in the conninfo) applies as usual; ours only guards against a
  // server that never answers when none is given.
  options.connect_timeout_s = connect_timeout > 0 ? connect_timeout : 0;
  if (python::Hub::instance()) {
    state.conn = pg::Connection::create(python::native_io());
  } else {
    state.own_io = std::make_unique<boost::asio::io_context>(1);
    state.conn = pg::Connection::create(*state.own_io);
  }
  auto conn = state.conn;
  auto error = await_on_session<std::optional<pg::Error>>(
      state, [&](auto deliver) { conn->connect(std::move(options), std::move(deliver)); });
  if (!error) return nullptr;
  if (*error) return raise_native(**error);
  return self.release();
}

// connect_pooled(conninfo, pool_name, min_size, max_size, acquire_timeout, connect_timeout,
//                health_check_after, statement_timeout, reconnect_backoff_max)
// -> PGConn borrowing from the process's pool for these settings (created on first use).
// The keywords and defaults are [[postgres]]'s (runtime/config/config.h).
PyObject* connect_pooled(PyObject*, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"conninfo", "pool_name", "min_size", "max_size",
                                   "acquire_timeout", "connect_timeout", "health_check_after",
                                   "statement_timeout", "reconnect_backoff_max", nullptr};
  const char* conninfo;
  const char* pool_name = "default";
  int min_size = 0, max_size = 10;
  double acquire_timeout = 10, connect_timeout = 10, health_check_after = 30;
  double statement_timeout = 0, reconnect_backoff_max = 10;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|siidd$ddd", const_cast<char**>(keywords),
                                   &conninfo, &pool_name, &min_size, &max_size, &acquire_timeout,
                                   &connect_timeout, &health_check_after, &statement_timeout,
                                   &reconnect_backoff_max)) {
    return nullptr;
  }
  if (max_size < 1 || min_size < 0 || min_size > max_size) {
    PyErr_SetString(PyExc_ValueError, "pool sizes: need 0 <= min_size <= max_size and max_size >= 1");
    return nullptr;
  }
  if (!(acquire_timeout > 0) || !(connect_timeout > 0) || !(health_check_after >= 0) ||
      !(statement_timeout >= 0) || !(reconnect_backoff_max > 0)) {
    PyErr_SetString(PyExc_ValueError,
                    "pool timeouts: acquire_timeout, connect_timeout and reconnect_backoff_max "
                    "must be > 0 s, health_check_after and statement_timeout >= 0 s");
    return nullptr;
  }
  python::PyRef self = python::make_native(conn_type, std::make_unique<State>());
  State* state = &state_of(self.get());
  {
    pg::PoolOptions options;
    options.name = pool_name;
    options.conninfo = conninfo;
    options.min_size = min_size;
    options.max_size = max_size;
    options.acquire_timeout_s = acquire_timeout;
    options.connect_timeout_s = connect_timeout;
    options.inline_callbacks = true;  // borrow()'s callback only fills a slot and wakes
    options.health_check_after_s = health_check_after;
    options.statement_timeout_s = statement_timeout;
    options.reconnect_backoff_max_s = reconnect_backoff_max;
    state->pool = shared_pool(options);
    // Borrow once now: bad settings fail here, like a dedicated connect, and the session's
    // facts (server version, parameters) are known before the first statement.
    if (!borrow(*state)) return nullptr;
    give_back(*state);
  }
  return self.release();
}

PyObject* release(PyObject* self, PyObject*) {
  State& s = state_of(self);
  OperationLock lock(s);
  if (!lock.held()) return nullptr;
  give_back(s);
  Py_RETURN_NONE;
}

PyObject* get_pooled(PyObject* self, void*) { return PyBool_FromLong(state_of(self).pool != nullptr); }

PyObject* get_leased(PyObject* self, void*) {
  State& s = state_of(self);
  return PyBool_FromLong(s.pool && s.conn);
}

// Plain python's dedicated sessions run statements on the calling thread (libpq + poll, GIL
// released), as a blocking driver does: no reactor round trip per statement.
bool runs_inline(const State& s) {
  if (!s.own_io) return false;
  python::Hub* hub = python::Hub::instance();
  return !(hub && hub->in_task());
}

PyObject* outcome_to_python(pg::QueryOutcome& outcome) {
  if (outcome.error) return raise_native(*outcome.error);
  if (outcome.results.empty()) Py_RETURN_NONE;
  // psycopg2 (PQexec) keeps the last result of a multi-statement query.
  return wrap_result(std::move(outcome.results.back()));
}

PyObject* execute_inline(State& s, std::string sql) {
  pg::QueryOutcome outcome;
  bool interrupted = false;
  {
    python::GilRelease released;
    outcome = s.conn->execute_inline(std::move(sql), [&interrupted] {
      python::GilAcquire gil;  // Ctrl-C interrupts a long statement, as time.sleep
      interrupted = PyErr_CheckSignals() < 0;
      return interrupted;
    });
  }
  if (interrupted) {
    s.closed = true;
    return nullptr;  // the signal handler's exception
  }
  return outcome_to_python(outcome);
}

PyObject* execute(PyObject* self, PyObject* query) {
  State& s = state_of(self);
  std::string sql;
  if (PyBytes_Check(query)) {
    sql.assign(PyBytes_AS_STRING(query), PyBytes_GET_SIZE(query));
  } else {
    PyErr_SetString(PyExc_TypeError, "execute() takes the query as bytes");
    return nullptr;
  }
  if (sql.find('\0') != std::string::npos) {
    PyErr_SetString(PyExc_ValueError, "the query contains a NUL (0x00) byte");
    return nullptr;
  }
  if (!usable(s)) return nullptr;
  OperationLock lock(s);
  if (!lock.held()) return nullptr;
  if (!usable(s)) return nullptr;  // closed while we waited for the lock
  if (!borrow(s)) return nullptr;
  if (runs_inline(s)) return execute_inline(s, std::move(sql));
  auto conn = s.conn;
  auto outcome = await_on_session<pg::QueryOutcome>(
      s, [&](auto deliver) { conn->execute(std::move(sql), std::move(deliver)); });
  if (!outcome) return nullptr;
  if (s.pool && !s.conn->is_open()) give_back(s);  // broken: the pool replaces it
  return outcome_to_python(*outcome);
}

PyObject* cancel(PyObject* self, PyObject*) {
  State& s = state_of(self);
  if (s.closed) return raise_interface("connection already closed");
  if (!s.conn) Py_RETURN_NONE;  // pooled, between statements: nothing runs
  std::string why;
  bool sent;
  {
    python::GilRelease released;  // a round trip to the server
    sent = s.conn->cancel(&why);
  }
  if (!sent) {
    pg::Error e{pg::Error::Kind::connection_lost, "", "could not send the cancel request: " + why,
                "", "", nullptr};
    return raise_native(e);
  }
  Py_RETURN_NONE;
}

PyObject* close(PyObject* self, PyObject*) {
  State& s = state_of(self);
  if (!s.closed) {
    s.closed = true;
    if (s.pool) {
      give_back(s);
    } else {
      s.conn->close();
      finish_own_io(s);
    }
  }
  Py_RETURN_NONE;
}

PyObject* get_closed(PyObject* self, void*) {
  State& s = state_of(self);
  if (s.pool) return PyBool_FromLong(s.closed);
  return PyBool_FromLong(s.closed || !s.conn->is_open());
}

// psycopg2's TRANSACTION_STATUS_* values: IDLE 0, ACTIVE 1, INTRANS 2, INERROR 3, UNKNOWN 4.
PyObject* get_transaction_status(PyObject* self, void*) {
  State& s = state_of(self);
  if (s.closed) return PyLong_FromLong(4);
  if (!s.conn) return PyLong_FromLong(0);  // pooled, nothing borrowed: idle
  switch (s.conn->transaction_status()) {
    case pg::TransactionStatus::idle: return PyLong_FromLong(0);
    case pg::TransactionStatus::active: return PyLong_FromLong(1);
    case pg::TransactionStatus::in_transaction: return PyLong_FromLong(2);
    case pg::TransactionStatus::in_error: return PyLong_FromLong(3);
    case pg::TransactionStatus::unknown: break;
  }
  return PyLong_FromLong(4);
}

PyObject* get_backend_pid(PyObject* self, void*) {
  State& s = state_of(self);
  const pg::Connection* c = s.conn ? s.conn.get() : s.last.get();
  return PyLong_FromLong(c ? c->backend_pid() : 0);
}

PyObject* get_server_version(PyObject* self, void*) {
  State& s = state_of(self);
  const pg::Connection* c = s.conn ? s.conn.get() : s.last.get();
  return PyLong_FromLong(c ? c->server_version() : 0);
}

PyObject* parameter_status(PyObject* self, PyObject* name) {
  State& s = state_of(self);
  const char* key = PyUnicode_AsUTF8(name);
  if (!key) return nullptr;
  if (s.closed || (s.conn && s.conn->is_busy())) Py_RETURN_NONE;
  std::string value;
  if (s.conn) {
    value = s.conn->parameter_status(key);
  } else if (s.last) {
    value = s.last->connect_parameter(key);
  }
  if (value.empty()) Py_RETURN_NONE;
  return PyUnicode_DecodeUTF8(value.data(), static_cast<Py_ssize_t>(value.size()), "replace");
}

// notifies() -> [(pid, channel, payload)] received since the last call.
PyObject* notifies(PyObject* self, PyObject*) {
  State& s = state_of(self);
  std::vector<pg::Notification> drained;
  if (s.conn) drained = s.conn->drain_notifications();
  python::PyRef out = python::PyRef::steal(PyList_New(static_cast<Py_ssize_t>(drained.size())));
  if (!out) return nullptr;
  for (size_t i = 0; i < drained.size(); ++i) {
    const pg::Notification& n = drained[i];
    PyObject* item = Py_BuildValue("(is#s#)", n.pid, n.channel.data(),
                                   static_cast<Py_ssize_t>(n.channel.size()), n.payload.data(),
                                   static_cast<Py_ssize_t>(n.payload.size()));
    if (!item) return nullptr;
    PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), item);
  }
  return out.release();
}

// has_unasked() -> True when notices or notifications wait to be drained: the statement path
// asks this once instead of building two empty lists.
PyObject* has_unasked(PyObject* self, PyObject*) {
  State& s = state_of(self);
  return PyBool_FromLong(s.conn && s.conn->has_unasked());
}

// poll(): reads what the server sent unasked (NOTIFY, notices) without waiting for more.
// A pooled session between leases has no server session to read.
PyObject* poll(PyObject* self, PyObject*) {
  State& s = state_of(self);
  if (!usable(s)) return nullptr;
  OperationLock lock(s);
  if (!lock.held()) return nullptr;
  if (!usable(s)) return nullptr;
  if (!s.conn) Py_RETURN_NONE;
  if (runs_inline(s)) {
    s.conn->consume_input_inline();  // a broken session shows in `closed` afterwards
  } else {
    auto conn = s.conn;
    auto error = await_on_session<std::optional<pg::Error>>(
        s, [&](auto deliver) { conn->consume_input(std::move(deliver)); });
    if (!error) return nullptr;  // what consume_input reported shows in `closed`, as inline
  }
  if (s.pool && !s.conn->is_open()) give_back(s);  // broken: the pool replaces it
  Py_RETURN_NONE;
}

// fileno() -> libpq's socket of a dedicated session (-1 when closed); pooled sessions have
// none of their own.
PyObject* fileno(PyObject* self, PyObject*) {
  State& s = state_of(self);
  if (s.pool) return PyLong_FromLong(-1);
  return PyLong_FromLong(s.conn ? s.conn->socket_fd() : -1);
}

PyObject* notices(PyObject* self, PyObject*) {
  State& s = state_of(self);
  std::vector<pg::Notice> drained;
  if (s.conn) drained = s.conn->drain_notices();
  python::PyRef out = python::PyRef::steal(PyList_New(static_cast<Py_ssize_t>(drained.size())));
  if (!out) return nullptr;
  for (size_t i = 0; i < drained.size(); ++i) {
    const std::string& text = drained[i].text;
    PyObject* item =
        PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
    if (!item) return nullptr;
    PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), item);
  }
  return out.release();
}

// info() -> {host, port, dbname, user, password, options, ssl_in_use} of the session.
PyObject* info(PyObject* self, PyObject*) {
  State& s = state_of(self);
  static const pg::SessionInfo none;
  const pg::Connection* c = s.conn ? s.conn.get() : s.last.get();
  const pg::SessionInfo& i = c ? c->session_info() : none;
  return Py_BuildValue("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "host", i.host.c_str(), "port",
                       i.port.c_str(), "dbname", i.dbname.c_str(), "user", i.user.c_str(),
                       "password", i.password.c_str(), "options", i.options.c_str(),
                       "ssl_in_use", i.ssl_in_use ? Py_True : Py_False);
}

PyGetSetDef getset[] = {
    python::getter<get_closed>("closed", "True once closed or broken"),
    python::getter<get_transaction_status>("transaction_status", "psycopg2's TRANSACTION_STATUS_*"),
    python::getter<get_backend_pid>("backend_pid", "the server process id"),
    python::getter<get_server_version>("server_version", "e.g. 150018"),
    python::getter<get_pooled>("pooled",
                               "True when server connections are borrowed per transaction"),
    python::getter<get_leased>("leased", "True while a pooled session holds a server connection"),
    python::kEndGetters};

PyMethodDef methods[] = {
    python::method<execute, METH_O>(
        "execute", "execute(query: bytes) -> PGResult | None (the last result)"),
    python::method<copy, METH_VARARGS>(
        "copy", "copy(query: bytes, read, write) -> PGResult | None: runs COPY FROM STDIN / TO "
                "STDOUT"),
    python::method<cancel, METH_NOARGS>("cancel",
                                        "cancel(): ask the server to cancel the running statement"),
    python::method<close, METH_NOARGS>("close", "close()"),
    python::method<release, METH_NOARGS>(
        "release",
        "release(): a pooled session gives its server connection back (rolled back if needed)"),
    python::method<parameter_status, METH_O>("parameter_status",
                                             "parameter_status(name) -> str | None"),
    python::method<notices, METH_NOARGS>("notices",
                                         "notices() -> messages received since the last call"),
    python::method<has_unasked, METH_NOARGS>(
        "has_unasked", "has_unasked() -> True when notices() or notifies() have something"),
    python::method<notifies, METH_NOARGS>(
        "notifies", "notifies() -> [(pid, channel, payload)] received since the last call"),
    python::method<poll, METH_NOARGS>("poll",
                                      "poll(): read what the server sent unasked (NOTIFY, notices)"),
    python::method<fileno, METH_NOARGS>(
        "fileno", "fileno() -> libpq's socket of a dedicated session, or -1"),
    python::method<info, METH_NOARGS>("info", "info() -> dict describing the session"),
    python::kEndMethods};

PyMethodDef module_methods[] = {
    python::method<connect, METH_VARARGS | METH_KEYWORDS>(
        "connect", "connect(conninfo, connect_timeout=0) -> PGConn"),
    python::method<connect_pooled, METH_VARARGS | METH_KEYWORDS>(
        "connect_pooled",
        "connect_pooled(conninfo, pool_name, min_size, max_size, acquire_timeout, "
        "connect_timeout) -> PGConn borrowing server connections per transaction"),
    python::kEndMethods};

PyType_Slot slots[] = {python::slot<Py_tp_dealloc, dealloc>(),
                       {Py_tp_getset, getset},
                       {Py_tp_methods, methods},
                       {Py_tp_doc, const_cast<char*>("A PostgreSQL session.")},
                       {0, nullptr}};
PyType_Spec spec = {"psycopg2._psycopg.PGConn", sizeof(ConnObject), 0,
                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};

}  // namespace

void add_connection_type(PyObject* module) {
  python::add_type(module, "PGConn", spec, conn_type);
  python::require(PyModule_AddFunctions(module, module_methods) == 0);
}

}  // namespace puff::psycopg
