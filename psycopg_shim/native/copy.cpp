#include "copy.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "native_error.h"
#include "pg/connection.h"
#include "pg_result.h"
#include "session.h"

namespace puff::psycopg {
namespace {

using StepCall = std::function<void(pg::Connection&, pg::Connection::CopyCallback)>;

// Makes one copy() call or step and waits for its answer. false = exception set (interrupted,
// which closed the session).
bool next_step(State& s, const StepCall& call, pg::CopyStep* step) {
  auto conn = s.conn;
  auto answer = await_on_session<pg::CopyStep>(s, [&](auto deliver) { call(*conn, deliver); });
  if (!answer) return false;
  *step = std::move(*answer);
  return true;
}

// write(bytes) with a batch of COPY TO STDOUT data. false = exception set.
bool write_out(PyObject* write, std::string data) {
  python::PyRef chunk = python::PyRef::steal(
      PyBytes_FromStringAndSize(data.data(), static_cast<Py_ssize_t>(data.size())));
  if (!chunk) return false;
  std::string().swap(data);  // one copy of the batch at a time
  python::PyRef written = python::PyRef::steal(PyObject_CallOneArg(write, chunk.get()));
  return static_cast<bool>(written);
}

// read() -> bytes-like for COPY FROM STDIN (empty: the end). false = exception set.
bool read_in(PyObject* read, std::string* chunk) {
  python::PyRef data = python::PyRef::steal(PyObject_CallNoArgs(read));
  if (!data) return false;
  Py_buffer view;
  if (PyObject_GetBuffer(data.get(), &view, PyBUF_SIMPLE) < 0) return false;
  chunk->assign(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
  PyBuffer_Release(&view);
  return true;
}

// The reason COPY FROM STDIN fails with when read() raised, worded as psycopg2 words it (the
// server's error message then names the Python exception).
std::string read_failure_reason(const python::SavedException& failure) {
  std::string reason = "error in .read() call: ";
  reason += Py_TYPE(failure.value.get())->tp_name;
  python::PyRef text = python::PyRef::steal(PyObject_Str(failure.value.get()));
  const char* utf8 = text ? PyUnicode_AsUTF8(text.get()) : nullptr;
  if (!utf8) PyErr_Clear();
  if (utf8 && *utf8) reason += std::string(" ") + utf8;
  constexpr std::size_t kMaxReason = 1000;
  if (reason.size() > kMaxReason) reason.resize(kMaxReason);
  return reason;
}

// Sets the server's error as the pending exception, caused by the file's own exception.
PyObject* raise_caused_by(const pg::Error& error, const python::SavedException& cause) {
  raise_native(error);
  python::SavedException server = python::SavedException::fetch();
  if (!server.value) return nullptr;
  PyException_SetCause(server.value.get(), Py_NewRef(cause.value.get()));
  PyException_SetContext(server.value.get(), Py_NewRef(cause.value.get()));
  server.restore();
  return nullptr;
}

}  // namespace

PyObject* copy(PyObject* self, PyObject* args) {
  State& s = state_of(self);
  PyObject *query, *read, *write;
  if (!PyArg_ParseTuple(args, "O!OO:copy", &PyBytes_Type, &query, &read, &write)) return nullptr;
  if (!PyCallable_Check(read) || !PyCallable_Check(write)) {
    PyErr_SetString(PyExc_TypeError, "copy(query, read, write): read and write must be callable");
    return nullptr;
  }
  std::string sql(PyBytes_AS_STRING(query), static_cast<std::size_t>(PyBytes_GET_SIZE(query)));
  if (sql.find('\0') != std::string::npos) {
    PyErr_SetString(PyExc_ValueError, "the query contains a NUL (0x00) byte");
    return nullptr;
  }
  // The callables run between steps: keep them alive whatever they do to their owners.
  python::PyRef reader = python::PyRef::borrow(read);
  python::PyRef writer = python::PyRef::borrow(write);
  if (!usable(s)) return nullptr;
  OperationLock lock(s);
  if (!lock.held()) return nullptr;
  if (!usable(s)) return nullptr;  // closed while we waited for the lock
  if (!borrow(s)) return nullptr;

  pg::CopyStep step;
  if (!next_step(s, [&sql](pg::Connection& c, auto done) { c.copy(std::move(sql), done); },
                 &step)) {
    return nullptr;
  }
  python::SavedException failure;  // what the file's read() or write() raised
  bool failed_reading = false;
  while (step.kind != pg::CopyStep::Kind::done) {
    StepCall call;
    if (step.kind == pg::CopyStep::Kind::copy_out) {
      if (write_out(writer.get(), std::move(step.data))) {
        call = [](pg::Connection& c, auto done) { c.copy_out_next(done); };
      } else {
        failure = python::SavedException::fetch();
        call = [](pg::Connection& c, auto done) { c.copy_abort("write() failed", done); };
      }
    } else {
      auto chunk = std::make_shared<std::string>();
      if (!read_in(reader.get(), chunk.get())) {
        failure = python::SavedException::fetch();
        failed_reading = true;
        call = [reason = read_failure_reason(failure)](pg::Connection& c, auto done) {
          c.copy_abort(reason, done);
        };
      } else if (chunk->empty()) {
        call = [](pg::Connection& c, auto done) { c.copy_in_end(done); };
      } else {
        call = [chunk](pg::Connection& c, auto done) { c.copy_in_put(std::move(*chunk), done); };
      }
    }
    if (failure.value && !PyObject_IsInstance(failure.value.get(), PyExc_Exception)) {
      // KeyboardInterrupt, a killed greenlet, SystemExit: stop now, as an interrupted wait does.
      s.conn->close();
      s.closed = true;
      failure.restore();
      return nullptr;
    }
    if (!next_step(s, call, &step)) return nullptr;
  }

  if (s.pool && !s.conn->is_open()) give_back(s);  // broken: the pool replaces it
  pg::QueryOutcome& outcome = step.outcome;
  if (failure.value) {
    // psycopg2: a failed read() surfaces as the server's error, which names it; a failed
    // write() as itself.
    if (failed_reading && outcome.error) return raise_caused_by(*outcome.error, failure);
    failure.restore();
    return nullptr;
  }
  if (outcome.error) return raise_native(*outcome.error);
  if (outcome.results.empty()) Py_RETURN_NONE;
  return wrap_result(std::move(outcome.results.back()));  // the last, as execute()
}

}  // namespace puff::psycopg
