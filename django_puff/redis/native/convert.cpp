#include "convert.h"

#include <charconv>
#include <string>
#include <string_view>

#include "python/kit/native_error.h"
#include "python/kit/types.h"

namespace puff::redis_client {
namespace {

Exceptions module_exceptions;

// The exception class `name` of the module (made on the first import, reused after).
void add_class(PyObject* module, python::Pinned<>& type, const char* name, PyObject* base,
               const char* doc) {
  if (!type) {
    std::string qualified = std::string("django_puff._redis.") + name;
    type.pin(PyRef::steal(
        python::require(PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base, nullptr))));
  }
  python::add_object(module, name, type.get());
}

}  // namespace

const Exceptions& exceptions() { return module_exceptions; }

void add_exceptions(PyObject* module) {
  Exceptions& e = module_exceptions;
  add_class(module, e.redis_error, "RedisError", PyExc_Exception,
            "Any error of puff's Redis client (attributes kind, code, message, detail).");
  PyRef connection_bases =
      PyRef::steal(python::require(PyTuple_Pack(2, e.redis_error.get(), PyExc_ConnectionError)));
  add_class(module, e.connection_error, "ConnectionError", connection_bases.get(),
            "Redis unreachable, the connection lost or closed, or no connection up.");
  PyRef timeout_bases =
      PyRef::steal(python::require(PyTuple_Pack(2, e.redis_error.get(), PyExc_TimeoutError)));
  add_class(module, e.timeout_error, "TimeoutError", timeout_bases.get(),
            "No reply within the command (or connect) timeout.");
  add_class(module, e.response_error, "ResponseError", e.redis_error.get(),
            "The server answered with an error (its message is the text, code its prefix).");
}

Arguments::~Arguments() {
  for (Py_buffer& buffer : buffers_) PyBuffer_Release(&buffer);
}

bool Arguments::add(PyObject* value) {
  if (PyBytes_Check(value)) {
    views_.emplace_back(PyBytes_AS_STRING(value), static_cast<size_t>(PyBytes_GET_SIZE(value)));
    return true;
  }
  if (PyUnicode_Check(value)) {
    Py_ssize_t size = 0;
    const char* text = PyUnicode_AsUTF8AndSize(value, &size);  // cached in the str object
    if (!text) return false;
    views_.emplace_back(text, static_cast<size_t>(size));
    return true;
  }
  if (PyBool_Check(value) || value == Py_None) {
    // As redis-py: True/None have no single Redis encoding; make the caller choose one.
    PyErr_Format(PyExc_TypeError,
                 "invalid Redis argument %R: pass bytes, str, int or float (encode booleans "
                 "and None explicitly)", value);
    return false;
  }
  if (PyLong_Check(value)) {
    int overflow = 0;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (!overflow) {
      char digits[24];
      auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
      storage_.emplace_back(digits, end);
      views_.emplace_back(storage_.back());
      return true;
    }
    return add_text(PyLong_Type.tp_repr(value));  // int's own digits, also for IntEnum members
  }
  if (PyFloat_Check(value)) return add_text(PyFloat_Type.tp_repr(value));  // shortest repr
  if (PyObject_CheckBuffer(value)) {
    Py_buffer buffer;
    if (PyObject_GetBuffer(value, &buffer, PyBUF_SIMPLE) < 0) return false;
    buffers_.push_back(buffer);
    views_.emplace_back(static_cast<const char*>(buffer.buf), static_cast<size_t>(buffer.len));
    return true;
  }
  PyErr_Format(PyExc_TypeError,
               "invalid Redis argument of type %s: pass bytes, str, int or float",
               Py_TYPE(value)->tp_name);
  return false;
}

bool Arguments::add_text(PyObject* new_text) {
  PyRef text = PyRef::steal(new_text);
  if (!text) return false;
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(text.get(), &size);
  if (!utf8) return false;
  storage_.emplace_back(utf8, static_cast<size_t>(size));
  views_.emplace_back(storage_.back());
  return true;
}

bool Arguments::add_all(PyObject* const* values, Py_ssize_t count) {
  views_.reserve(views_.size() + static_cast<size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) {
    if (!add(values[i])) return false;
  }
  return true;
}

bool Arguments::add_sequence(PyObject* sequence) {
  PyRef fast = PyRef::steal(PySequence_Fast(sequence, "a Redis command must be a tuple or list"));
  if (!fast) return false;
  return add_all(PySequence_Fast_ITEMS(fast.get()), PySequence_Fast_GET_SIZE(fast.get()));
}

bool CommandBatch::parse(PyObject* commands_arg) {
  PyRef commands = PyRef::steal(PySequence_Fast(commands_arg, "commands must be a sequence"));
  if (!commands) return false;
  Py_ssize_t count = PySequence_Fast_GET_SIZE(commands.get());
  for (Py_ssize_t i = 0; i < count; ++i) {
    arguments_.push_back(std::make_unique<Arguments>());
    if (!arguments_.back()->add_sequence(PySequence_Fast_GET_ITEM(commands.get(), i))) {
      return false;
    }
    if (arguments_.back()->empty()) {
      PyErr_Format(PyExc_ValueError, "command %zd of the batch is empty", i);
      return false;
    }
    commands_.push_back(arguments_.back()->views());
  }
  return true;
}

PyObject* stats_dict(const redis::PoolStats& s) {
  auto count = [](std::uint64_t n) { return static_cast<unsigned long long>(n); };
  return Py_BuildValue(
      "{s:s, s:s, s:i, s:i, s:n, s:i, s:i, s:K, s:K, s:K, s:K, s:K, s:N}", "name",
      s.name.c_str(), "where", s.where.c_str(), "size", s.size, "connected", s.connected,
      "in_flight", static_cast<Py_ssize_t>(s.in_flight), "dedicated_in_use", s.dedicated_in_use,
      "dedicated_idle", s.dedicated_idle, "commands_total", count(s.commands_total),
      "writes_total", count(s.writes_total), "connects_total", count(s.connects_total),
      "connect_failures_total", count(s.connect_failures_total), "connections_lost_total",
      count(s.connections_lost_total), "last_error",
      PyUnicode_DecodeUTF8(s.last_error.data(), static_cast<Py_ssize_t>(s.last_error.size()),
                           "replace"));
}

PyRef to_python(const redis::Reply& reply) {
  using Type = redis::Reply::Type;
  switch (reply.type) {
    case Type::nil:
      return PyRef::borrow(Py_None);
    case Type::integer:
      return PyRef::steal(PyLong_FromLongLong(reply.integer));
    case Type::status:
      return PyRef::steal(PyUnicode_DecodeLatin1(reply.str.data(),
                                                 static_cast<Py_ssize_t>(reply.str.size()),
                                                 nullptr));
    case Type::string:
      return PyRef::steal(
          PyBytes_FromStringAndSize(reply.str.data(), static_cast<Py_ssize_t>(reply.str.size())));
    case Type::error: {
      std::string_view text = reply.str;
      std::string_view code = text.substr(0, text.find(' '));
      return PyRef::steal(python::new_native_error(module_exceptions.response_error.get(),
                                                   {"response", code, text, ""}));
    }
    case Type::array: {
      PyRef list = PyRef::steal(PyList_New(static_cast<Py_ssize_t>(reply.elements.size())));
      if (!list) return {};
      for (size_t i = 0; i < reply.elements.size(); ++i) {
        PyRef item = to_python(reply.elements[i]);
        if (!item) return {};
        PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), item.release());
      }
      return list;
    }
  }
  PyErr_SetString(PyExc_SystemError, "unknown Redis reply type");
  return {};
}

PyObject* raise_error(const redis::Error& error) {
  using Kind = redis::Error::Kind;
  PyObject* type = module_exceptions.redis_error.get();
  switch (error.kind) {
    case Kind::connect_failed:
    case Kind::connection_lost:
    case Kind::unavailable:
    case Kind::closed:
      type = module_exceptions.connection_error.get();
      break;
    case Kind::timeout:
      type = module_exceptions.timeout_error.get();
      break;
    case Kind::refused:
    case Kind::protocol_error:
      break;
  }
  return python::raise_native_error(type, {redis::kind_name(error.kind), "", error.message, ""});
}

}  // namespace puff::redis_client
