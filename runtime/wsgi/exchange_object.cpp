#include "wsgi/exchange_object.h"

#include <fcntl.h>

#include <string>

#include "http/response_head.h"
#include "python/kit/await_native.h"
#include "python/kit/types.h"
#include "wsgi/environ.h"
#include "wsgi/serve_state.h"

namespace puff::wsgi {
namespace {

using python::PyRef;

// A request in flight: `exchange` is reset once the request has ended (release()).
struct ExchangeState {
  std::shared_ptr<http::Exchange> exchange;
  std::shared_ptr<AdmissionSlot> slot;  // left while a read or send waits on the client
  ~ExchangeState();
};

python::Pinned<PyTypeObject> exchange_type;
python::Pinned<> g_client_disconnected;
int g_active = 0;  // exchanges not released yet

void release_exchange(ExchangeState& state) {
  if (!state.exchange) return;
  state.exchange.reset();  // an unfinished response is ended by ~http::Exchange
  state.slot.reset();
  --g_active;
}

ExchangeState::~ExchangeState() { release_exchange(*this); }

// While a read or a send waits on the client, the request does not count as running.
class ClientWait {
 public:
  ClientWait(PyObject* self, bool on_client)
      : slot_(on_client ? python::state_of<ExchangeState>(self).slot : nullptr) {
    if (slot_) slot_->client_wait_begins();
  }
  ~ClientWait() {
    if (slot_) slot_->client_wait_ends();
  }
  ClientWait(const ClientWait&) = delete;
  ClientWait& operator=(const ClientWait&) = delete;

 private:
  std::shared_ptr<AdmissionSlot> slot_;
};

// The request's exchange, or nullptr with ClientDisconnected set once the request has ended
// (an application that kept wsgi.input and reads it later).
std::shared_ptr<http::Exchange> live_exchange(PyObject* self) {
  std::shared_ptr<http::Exchange> exchange = python::state_of<ExchangeState>(self).exchange;
  if (!exchange) {
    PyErr_SetString(g_client_disconnected.get(),
                    "this request has ended: its input and response can no longer be used");
  }
  return exchange;
}

// release(): the request is over. The Python object may live on (Django's request objects sit
// in reference cycles until the next gc pass, and they keep wsgi.input), but the request no
// longer counts as in flight: a graceful stop does not wait for the garbage collector.
PyObject* exchange_release(PyObject* self, PyObject*) {
  release_exchange(python::state_of<ExchangeState>(self));
  Py_RETURN_NONE;
}

// environ(base) -> a new dict: base's keys plus this request's CGI keys.
PyObject* exchange_environ(PyObject* self, PyObject* base) {
  if (!PyDict_Check(base)) {
    PyErr_SetString(PyExc_TypeError, "environ() needs the base dict");
    return nullptr;
  }
  static const http::TrustedProxies proxies(serve_config().http.trusted_proxies);
  std::shared_ptr<http::Exchange> exchange = live_exchange(self);
  if (!exchange) return nullptr;
  return build_environ(exchange->request(), base, proxies).release();
}

// read(size) -> up to `size` bytes of the body (at least one unless at the end: b"").
PyObject* exchange_read(PyObject* self, PyObject* size_object) {
  Py_ssize_t size = PyNumber_AsSsize_t(size_object, PyExc_OverflowError);
  if (size == -1 && PyErr_Occurred()) return nullptr;
  std::shared_ptr<http::Exchange> exchange = live_exchange(self);
  if (!exchange) return nullptr;
  if (size <= 0) return PyBytes_FromStringAndSize("", 0);
  ClientWait on_client(self, exchange->body_pending());
  auto read = python::await_native<http::BodyRead>([&](auto deliver) {
    exchange->read_body(static_cast<std::size_t>(size), std::move(deliver));
  });
  if (!read) return nullptr;
  if (!read->error.empty()) {
    PyErr_SetString(g_client_disconnected.get(), read->error.c_str());
    return nullptr;
  }
  return PyBytes_FromStringAndSize(read->data.data(), static_cast<Py_ssize_t>(read->data.size()));
}

// A header name or value: a str whose characters all fit in latin-1 (PEP 3333).
bool latin1_of(PyObject* text, const char* what, std::string* out) {
  if (!PyUnicode_Check(text)) {
    PyErr_Format(PyExc_TypeError, "%s must be a str, got %s", what, Py_TYPE(text)->tp_name);
    return false;
  }
  PyRef bytes = PyRef::steal(PyUnicode_AsLatin1String(text));
  if (!bytes) {
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%s %R is not latin-1 (encode it, e.g. RFC 8187)", what, text);
    return false;
  }
  out->assign(PyBytes_AS_STRING(bytes.get()), static_cast<size_t>(PyBytes_GET_SIZE(bytes.get())));
  return true;
}

bool head_of(PyObject* status, PyObject* headers, http::ResponseHead* head) {
  std::string status_line;
  if (!latin1_of(status, "the status", &status_line)) return false;
  std::string problem = http::parse_status(status_line, &head->status, &head->reason);
  if (!problem.empty()) {
    PyErr_SetString(PyExc_ValueError, problem.c_str());
    return false;
  }
  PyRef items = PyRef::steal(PySequence_Fast(headers, "the headers must be a list"));
  if (!items) return false;
  Py_ssize_t count = PySequence_Fast_GET_SIZE(items.get());
  head->headers.reserve(static_cast<size_t>(count) + 2);
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(items.get(), i);  // borrowed
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
      PyErr_Format(PyExc_TypeError, "each header must be a (name, value) tuple, got %R", item);
      return false;
    }
    http::Header header;
    if (!latin1_of(PyTuple_GET_ITEM(item, 0), "a header name", &header.name) ||
        !latin1_of(PyTuple_GET_ITEM(item, 1), "a header value", &header.value)) {
      return false;
    }
    head->headers.push_back(std::move(header));
  }
  problem = http::check_response_head(*head);
  if (!problem.empty()) {
    PyErr_Format(PyExc_ValueError, "invalid response head: %s", problem.c_str());
    return false;
  }
  return true;
}

// send(status, headers, body, last) -> True once written, False when the client is gone.
// status/headers are None after the first call. The last send does not wait: nothing follows
// it, and the IO threads finish the write on their own.
PyObject* exchange_send(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "send(status, headers, body, last)");
    return nullptr;
  }
  std::optional<http::ResponseHead> head;
  if (args[0] != Py_None) {
    head.emplace();
    if (!head_of(args[0], args[1], &*head)) return nullptr;
  }
  Py_buffer view;
  if (PyObject_GetBuffer(args[2], &view, PyBUF_SIMPLE) < 0) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "response body chunks must be bytes, got %s",
                 Py_TYPE(args[2])->tp_name);
    return nullptr;
  }
  std::string body(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  int last = PyObject_IsTrue(args[3]);
  if (last < 0) return nullptr;
  std::shared_ptr<http::Exchange> exchange = live_exchange(self);
  if (!exchange) return nullptr;
  if (last) {
    exchange->send(std::move(head), std::move(body), true, nullptr);
    Py_RETURN_TRUE;
  }
  ClientWait on_client(self, exchange->send_would_wait(body.size()));
  auto written = python::await_native<bool>([&](auto deliver) {
    exchange->send(std::move(head), std::move(body), false, std::move(deliver));
  });
  if (!written) return nullptr;
  return PyBool_FromLong(*written);
}

// send_file(status, headers, fd, offset, length) -> True: ends the response with `length`
// bytes of the file from `offset`, sent by the IO threads with sendfile(2) from a dup of `fd`
// (the application may close its file at once). Does not wait, like the last send().
PyObject* exchange_send_file(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "send_file(status, headers, fd, offset, length)");
    return nullptr;
  }
  std::shared_ptr<http::Exchange> exchange = live_exchange(self);
  if (!exchange) return nullptr;
  http::ResponseHead head;
  if (!head_of(args[0], args[1], &head)) return nullptr;
  int fd = PyObject_AsFileDescriptor(args[2]);
  long long offset = PyLong_AsLongLong(args[3]);
  long long length = PyLong_AsLongLong(args[4]);
  if (fd < 0 || PyErr_Occurred()) return nullptr;
  if (offset < 0 || length < 0) {
    PyErr_SetString(PyExc_ValueError, "send_file: negative offset or length");
    return nullptr;
  }
  auto file = std::make_shared<http::FileSegment>();
  file->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (file->fd < 0) return PyErr_SetFromErrno(PyExc_OSError);
  file->offset = offset;
  file->remaining = static_cast<std::uint64_t>(length);
  exchange->send_file(std::move(head), std::move(file), nullptr);
  Py_RETURN_TRUE;
}

PyObject* exchange_abort(PyObject* self, PyObject*) {
  std::shared_ptr<http::Exchange> exchange = live_exchange(self);
  if (!exchange) return nullptr;
  exchange->abort();
  Py_RETURN_NONE;
}

PyMethodDef exchange_methods[] = {
    python::method<exchange_environ, METH_O>("environ",
                                             "environ(base) -> the WSGI environ of this request"),
    python::method<exchange_read, METH_O>(
        "read", "read(size) -> up to size bytes of the body; b'' at the end"),
    python::method<exchange_send, METH_FASTCALL>(
        "send", "send(status, headers, body, last) -> False when the client is gone"),
    python::method<exchange_send_file, METH_FASTCALL>(
        "send_file", "send_file(status, headers, fd, offset, length): end the response with a file"),
    python::method<exchange_abort, METH_NOARGS>("abort", "abort(): close the connection"),
    python::method<exchange_release, METH_NOARGS>(
        "release", "release(): the request is over (what is unfinished is ended); later calls raise"),
    python::kEndMethods};

PyType_Slot exchange_slots[] = {
    python::slot<Py_tp_dealloc, python::native_dealloc<ExchangeState>>(),
    {Py_tp_methods, exchange_methods},
    {Py_tp_doc, const_cast<char*>("One HTTP request and its response (made by the server, not "
                                  "by you).")},
    {0, nullptr}};

PyType_Spec exchange_spec = {"_puff_wsgi.Exchange", sizeof(python::NativeObject<ExchangeState>),
                             0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
                             exchange_slots};

}  // namespace

void add_exchange_type(PyObject* module) {
  python::add_type(module, "Exchange", exchange_spec, exchange_type);
  if (!g_client_disconnected) {
    g_client_disconnected.pin(PyRef::steal(python::require(PyErr_NewExceptionWithDoc(
        "_puff_wsgi.ClientDisconnected",
        "The client closed the connection (or the request body could not be read).",
        PyExc_OSError, nullptr))));
  }
  python::add_object(module, "ClientDisconnected", g_client_disconnected.get());
}

PyRef new_exchange_object(std::shared_ptr<http::Exchange> exchange,
                          std::shared_ptr<AdmissionSlot> slot) {
  auto state = std::make_unique<ExchangeState>();
  state->exchange = std::move(exchange);
  state->slot = std::move(slot);
  ++g_active;
  return python::make_native(exchange_type, std::move(state));
}

int active_exchanges() { return g_active; }

}  // namespace puff::wsgi
