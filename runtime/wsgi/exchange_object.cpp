#include "wsgi/exchange_object.h"

#include <fcntl.h>

#include <string>

#include "http/response_head.h"
#include "python/wait.h"
#include "wsgi/environ.h"
#include "wsgi/serve_state.h"

namespace puff::wsgi {
namespace {

using python::Completion;
using python::PyRef;

struct ExchangeObject {
  PyObject_HEAD
  // Owned; heap so the struct stays a C layout. nullptr once released.
  std::shared_ptr<http::Exchange>* exchange;
  std::shared_ptr<AdmissionSlot>* slot;
};

// While a read or a send waits on the client, the request does not count as running.
class ClientWait {
 public:
  ClientWait(PyObject* self, bool on_client)
      : slot_(on_client ? *reinterpret_cast<ExchangeObject*>(self)->slot : nullptr) {
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

PyObject* g_client_disconnected = nullptr;  // owned by the module
int g_active = 0;                           // exchanges not released yet

// The request's exchange, or nullptr with ClientDisconnected set once the request has ended
// (an application that kept wsgi.input and reads it later).
std::shared_ptr<http::Exchange>* live_exchange(PyObject* self) {
  auto* exchange = reinterpret_cast<ExchangeObject*>(self)->exchange;
  if (!exchange) {
    PyErr_SetString(g_client_disconnected,
                    "this request has ended: its input and response can no longer be used");
  }
  return exchange;
}

void release_exchange(ExchangeObject* object) {
  if (!object->exchange) return;
  delete object->exchange;  // an unfinished response is ended by ~http::Exchange
  object->exchange = nullptr;
  delete object->slot;
  object->slot = nullptr;
  --g_active;
}

void exchange_dealloc(PyObject* self) {
  release_exchange(reinterpret_cast<ExchangeObject*>(self));
  Py_TYPE(self)->tp_free(self);
}

// release(): the request is over. The Python object may live on (Django's request objects sit
// in reference cycles until the next gc pass, and they keep wsgi.input), but the request no
// longer counts as in flight: a graceful stop does not wait for the garbage collector.
PyObject* exchange_release(PyObject* self, PyObject*) {
  release_exchange(reinterpret_cast<ExchangeObject*>(self));
  Py_RETURN_NONE;
}

// environ(base) -> a new dict: base's keys plus this request's CGI keys.
PyObject* exchange_environ(PyObject* self, PyObject* base) {
  if (!PyDict_Check(base)) {
    PyErr_SetString(PyExc_TypeError, "environ() needs the base dict");
    return nullptr;
  }
  static const http::TrustedProxies proxies(serve_config().http.trusted_proxies);
  auto* exchange = live_exchange(self);
  if (!exchange) return nullptr;
  return build_environ((*exchange)->request(), base, proxies).release();
}

// read(size) -> up to `size` bytes of the body (at least one unless at the end: b"").
PyObject* exchange_read(PyObject* self, PyObject* size_object) {
  Py_ssize_t size = PyNumber_AsSsize_t(size_object, PyExc_OverflowError);
  if (size == -1 && PyErr_Occurred()) return nullptr;
  auto* live = live_exchange(self);
  if (!live) return nullptr;
  if (size <= 0) return PyBytes_FromStringAndSize("", 0);
  auto result = std::make_shared<http::BodyRead>();
  std::shared_ptr<http::Exchange> exchange = *live;
  ClientWait on_client(self, exchange->body_pending());
  bool waited = python::wait_native([&](Completion done) {
    exchange->read_body(static_cast<std::size_t>(size), [result, done](http::BodyRead read) {
      *result = std::move(read);
      done.complete();
    });
  });
  if (!waited) return nullptr;
  if (!result->error.empty()) {
    PyErr_SetString(g_client_disconnected, result->error.c_str());
    return nullptr;
  }
  return PyBytes_FromStringAndSize(result->data.data(),
                                   static_cast<Py_ssize_t>(result->data.size()));
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
  auto* live = live_exchange(self);
  if (!live) return nullptr;
  std::shared_ptr<http::Exchange> exchange = *live;
  if (last) {
    exchange->send(std::move(head), std::move(body), true, nullptr);
    Py_RETURN_TRUE;
  }
  auto ok = std::make_shared<bool>(false);
  ClientWait on_client(self, exchange->send_would_wait(body.size()));
  bool waited = python::wait_native([&](Completion done) {
    exchange->send(std::move(head), std::move(body), false, [ok, done](bool written) {
      *ok = written;
      done.complete();
    });
  });
  if (!waited) return nullptr;
  return PyBool_FromLong(*ok);
}

// send_file(status, headers, fd, offset, length) -> True: ends the response with `length`
// bytes of the file from `offset`, sent by the IO threads with sendfile(2) from a dup of `fd`
// (the application may close its file at once). Does not wait, like the last send().
PyObject* exchange_send_file(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "send_file(status, headers, fd, offset, length)");
    return nullptr;
  }
  auto* live = live_exchange(self);
  if (!live) return nullptr;
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
  (*live)->send_file(std::move(head), std::move(file), nullptr);
  Py_RETURN_TRUE;
}

PyObject* exchange_abort(PyObject* self, PyObject*) {
  auto* exchange = live_exchange(self);
  if (!exchange) return nullptr;
  (*exchange)->abort();
  Py_RETURN_NONE;
}

PyMethodDef exchange_methods[] = {
    {"environ", exchange_environ, METH_O, "environ(base) -> the WSGI environ of this request"},
    {"read", exchange_read, METH_O, "read(size) -> up to size bytes of the body; b'' at the end"},
    {"send", python::as_method(exchange_send), METH_FASTCALL,
     "send(status, headers, body, last) -> False when the client is gone"},
    {"send_file", python::as_method(exchange_send_file), METH_FASTCALL,
     "send_file(status, headers, fd, offset, length): end the response with a file"},
    {"abort", exchange_abort, METH_NOARGS, "abort(): close the connection"},
    {"release", exchange_release, METH_NOARGS,
     "release(): the request is over (what is unfinished is ended); later calls raise"},
    {nullptr, nullptr, 0, nullptr}};

PyTypeObject exchange_type = [] {
  PyTypeObject type{PyVarObject_HEAD_INIT(nullptr, 0)};
  type.tp_name = "_puff_wsgi.Exchange";
  type.tp_basicsize = sizeof(ExchangeObject);
  type.tp_dealloc = exchange_dealloc;
  type.tp_flags = Py_TPFLAGS_DEFAULT;
  type.tp_doc = "One HTTP request and its response (made by the server, not by you).";
  type.tp_methods = exchange_methods;
  return type;
}();

}  // namespace

bool add_exchange_type(PyObject* module) {
  if (PyType_Ready(&exchange_type) < 0) return false;
  if (PyModule_AddObjectRef(module, "Exchange", reinterpret_cast<PyObject*>(&exchange_type)) < 0) {
    return false;
  }
  if (!g_client_disconnected) {
    g_client_disconnected = PyErr_NewExceptionWithDoc(
        "_puff_wsgi.ClientDisconnected",
        "The client closed the connection (or the request body could not be read).",
        PyExc_OSError, nullptr);
    if (!g_client_disconnected) return false;
  }
  return PyModule_AddObjectRef(module, "ClientDisconnected", g_client_disconnected) == 0;
}

PyRef new_exchange_object(std::shared_ptr<http::Exchange> exchange,
                          std::shared_ptr<AdmissionSlot> slot) {
  auto* object = PyObject_New(ExchangeObject, &exchange_type);
  if (!object) return {};
  object->exchange = new std::shared_ptr<http::Exchange>(std::move(exchange));
  object->slot = new std::shared_ptr<AdmissionSlot>(std::move(slot));
  ++g_active;
  return PyRef::steal(reinterpret_cast<PyObject*>(object));
}

int active_exchanges() { return g_active; }

}  // namespace puff::wsgi
