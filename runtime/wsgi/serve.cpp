// _puff_wsgi.serve(): listens, starts one greenlet per request, and drains on SIGINT/SIGTERM.
#include <unistd.h>

#include <csignal>
#include <optional>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>

#include "core/log.h"
#include "http/server.h"
#include "python/hub.h"
#include "python/task.h"
#include "python/wait.h"
#include "wsgi/admission.h"
#include "wsgi/exchange_object.h"
#include "wsgi/serve_state.h"

namespace puff::wsgi {
namespace {

using python::Hub;
using python::PyRef;

// What the IO threads' handler needs to start a request on the hub. The references are
// dropped by close() on the hub thread (GIL held); after that, requests still queued for the
// hub are answered by http::Exchange's destructor (500) instead of running.
struct Dispatch : std::enable_shared_from_this<Dispatch> {
  Hub* hub;
  PyRef app, run, base_environ;
  std::shared_ptr<Admission> admission;  // max_active_requests

  void start_request(std::shared_ptr<http::Exchange> exchange) {
    if (admission) admission->admit(std::move(exchange));
  }

  bool launch(std::shared_ptr<http::Exchange> exchange, std::shared_ptr<AdmissionSlot> slot) {
    PyRef exchange_object =
        python::catching([&] { return new_exchange_object(std::move(exchange), slot); });
    PyRef args = exchange_object ? PyRef::steal(PyTuple_Pack(3, app.get(), exchange_object.get(),
                                                             base_environ.get()))
                                 : PyRef();
    // A fresh contextvars context per request, as if it were its own thread.
    PyRef task = args ? python::new_task(run.get(), args.get(), nullptr, /*fresh_context=*/true)
                      : PyRef();
    if (!task) {
      PyErr_Print();
      return false;
    }
    python::set_on_finished(task.get(), [slot] { slot->finished(); });
    hub->start_task(task.get());
    return true;
  }

  void close() {
    if (admission) admission->close();
    admission.reset();
    app.reset();
    run.reset();
    base_environ.reset();
  }
};

http::ServerOptions options_of(const config::HttpConfig& http) {
  http::ServerOptions options;
  options.bind = http.bind;
  options.max_header_bytes = static_cast<std::uint64_t>(http.max_header_bytes);
  options.max_header_fields = static_cast<std::uint32_t>(http.max_header_fields);
  options.max_body_bytes = static_cast<std::uint64_t>(http.max_body_bytes);
  options.body_buffer_bytes = static_cast<std::uint64_t>(http.body_buffer_bytes);
  options.min_body_rate = http.min_body_rate;
  options.header_timeout_s = http.header_timeout_s;
  options.keepalive_timeout_s = http.keepalive_timeout_s;
  options.idle_timeout_s = http.idle_timeout_s;
  options.request_timeout_s = http.request_timeout_s;
  options.max_connections = http.max_connections;
  options.pipeline_depth = http.pipeline_depth;
  http::parse_access_log_format(http.access_log, &options.access_log);  // validated by config
  options.listen_fd = serve_config().listen_fd;
  options.accept_balance = serve_config().accept_balance;
  options.balance_slot = serve_config().balance_slot;
  for (const config::StaticMount& mount : http.static_mounts) {
    options.static_mounts.push_back({mount.url_prefix, mount.directory});
  }
  return options;
}

void say(const std::string& line) {
  std::string text = serve_config().label + ": " + line + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

// The supervisor waits for this before it announces the server, starts the other workers of
// a generation, or stops the workers a reload replaces.
void tell_supervisor(int ready_fd) {
  if (ready_fd < 0) return;
  auto pid = static_cast<std::int32_t>(::getpid());
  ssize_t ignored = ::write(ready_fd, &pid, sizeof pid);
  (void)ignored;
  ::close(ready_fd);
}

bool is_stop_request() {
  return PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) ||
         PyErr_ExceptionMatches(PyExc_SystemExit);
}

// SIGINT/SIGTERM must not raise in whatever greenlet happens to run when they arrive (a
// request's: its `except BaseException` would swallow the stop). The handlers only count the
// signal and wake serve(), which is parked on g_stop.
int g_stop_signals = 0;
int g_last_signal = 0;
std::optional<python::Completion> g_stop;

PyObject* on_stop_signal(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  ++g_stop_signals;
  if (nargs >= 1) g_last_signal = static_cast<int>(PyLong_AsLong(args[0]));
  PyErr_Clear();
  if (g_stop) g_stop->complete();
  Py_RETURN_NONE;
}

bool install_stop_handlers() {
  static PyMethodDef handler_def =
      python::method<on_stop_signal, METH_FASTCALL>("_on_stop_signal", nullptr);
  PyRef handler = PyRef::steal(PyCFunction_New(&handler_def, nullptr));
  PyRef signal_module = PyRef::steal(PyImport_ImportModule("signal"));
  if (!handler || !signal_module) return false;
  for (int signum : {SIGINT, SIGTERM}) {
    PyRef done = PyRef::steal(
        PyObject_CallMethod(signal_module.get(), "signal", "iO", signum, handler.get()));
    if (!done) return false;
  }
  return true;
}

}  // namespace

PyObject* serve(PyObject*, PyObject*) {
  Hub* hub = Hub::instance();
  Prepared& ready = prepared();
  if (!hub || !hub->in_task() || !ready.app) {
    PyErr_SetString(PyExc_RuntimeError, "_puff_wsgi.serve() runs only as `puff runserver`");
    return nullptr;
  }
  const ServeConfig& config = serve_config();
  auto dispatch = std::make_shared<Dispatch>();
  dispatch->hub = hub;
  dispatch->app = std::move(ready.app);
  dispatch->run = std::move(ready.run);
  dispatch->base_environ = std::move(ready.base_environ);
  dispatch->admission = std::make_shared<Admission>(
      static_cast<std::size_t>(config.http.max_active_requests),
      [weak = std::weak_ptr<Dispatch>(dispatch)](std::shared_ptr<http::Exchange> exchange,
                                                 std::shared_ptr<AdmissionSlot> slot) {
        auto self = weak.lock();
        return self && self->launch(std::move(exchange), std::move(slot));
      });
  http::Server server(hub->io().context(), options_of(config.http),
                      [dispatch](std::shared_ptr<http::Exchange> exchange) {
                        dispatch->hub->call_soon_threadsafe(
                            [dispatch, exchange = std::move(exchange)]() mutable {
                              dispatch->start_request(std::move(exchange));
                            });
                      });
  std::string problem = server.start();
  if (!problem.empty()) {
    say(problem);
    dispatch->close();
    return PyLong_FromLong(1);
  }
  if (config.worker > 0) {
    say("worker " + std::to_string(config.worker) + " (pid " + std::to_string(::getpid()) +
        ") accepts connections");
    tell_supervisor(config.ready_fd);
  } else {
    say("serving " + (config.app.empty() ? std::string("the Django project") : config.app) +
        " on " + server.address() + " (pid " + std::to_string(::getpid()) + "; Ctrl-C to stop)");
  }

  // Park until SIGINT/SIGTERM (or an exit request forwarded by the hub: SystemExit).
  bool waited = install_stop_handlers() &&
                python::wait_native([](python::Completion stop) { g_stop = stop; });
  g_stop.reset();
  if (!waited) {
    if (!is_stop_request()) {
      server.close_all();
      dispatch->close();
      return nullptr;
    }
    PyErr_Clear();
  }
  double grace = config.http.graceful_timeout_s;
  say("stopping: no new connections; finishing the requests in flight (up to " +
      std::to_string(static_cast<int>(grace)) + " s)");
  server.shutdown({});
  auto deadline = std::chrono::steady_clock::now() + python::to_timer_duration(grace);
  auto draining = [&] {
    http::ServerStats stats = server.stats();  // listening: the backlog is still being taken
    return stats.listening || stats.connections_open > 0 || active_exchanges() > 0;
  };
  while (draining() && std::chrono::steady_clock::now() < deadline) {
    bool slept = python::sleep_for(0.02);
    if (!slept || g_stop_signals > 1) {  // a second Ctrl-C: stop now
      say("stopping now (second signal)");
      server.close_all();
      dispatch->close();
      if (!slept) return nullptr;
      return PyLong_FromLong(128 + (g_last_signal ? g_last_signal : SIGINT));
    }
  }
  auto left = server.stats().connections_open;
  if (left > 0) say("graceful_timeout_s passed; closing " + std::to_string(left) + " connection(s)");
  server.close_all();
  dispatch->close();
  if (config.worker == 0) say("stopped");
  return PyLong_FromLong(0);
}

}  // namespace puff::wsgi
