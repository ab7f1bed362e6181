#include "fast_mogrify.h"

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "python/kit/types.h"
#include "python/pyref.h"
#include "row_builder.h"

namespace puff::psycopg {
namespace {

// What psycopg2._adapt registers (set_quoting): the adapters registry, the protocol, the
// default adapter of each type quoted here, and server_string_syntax(conn).
struct Quoting {
  python::Pinned<> adapters;     // dict (type, ISQLQuote) -> adapter
  python::Pinned<> keys[4];      // (int, ISQLQuote), (bool, ...), (float, ...), (str, ...)
  python::Pinned<> defaults[4];  // Int, Boolean, Float, QuotedString
  python::Pinned<> string_syntax;
};
Quoting quoting;

enum TypeIndex { kInt, kBool, kFloat, kStr };

// The value's type has its default adapter (nobody registered another): quoted here.
bool default_adapter(TypeIndex type) {
  PyObject* current = PyDict_GetItemWithError(quoting.adapters.get(), quoting.keys[type].get());
  return current == quoting.defaults[type].get();
}

// One query's quoting state: the connection, and its string syntax once a str needs it.
struct Context {
  PyObject* conn;
  std::string syntax;  // "on", "off" or "" (unknown), as server_string_syntax
  bool syntax_known = false;
};

enum class Outcome { done, fallback, error };

// A space before a negative number, so that "-%s" can't become a "--" comment (psycopg2).
void append_number(std::string& out, std::string_view text) {
  if (!text.empty() && text[0] == '-') out += ' ';
  out += text;
}

Outcome quote_text(Context& ctx, PyObject* value, std::string& out) {
  Py_ssize_t size;
  const char* data = PyUnicode_AsUTF8AndSize(value, &size);
  if (!data) {
    PyErr_Clear();  // lone surrogates: the Python path raises psycopg2's error
    return Outcome::fallback;
  }
  std::string_view text(data, static_cast<size_t>(size));
  if (text.find('\0') != std::string_view::npos) return Outcome::fallback;  // ValueError there
  if (!ctx.syntax_known) {
    python::PyRef syntax =
        python::PyRef::steal(PyObject_CallOneArg(quoting.string_syntax.get(), ctx.conn));
    if (!syntax) return Outcome::error;
    const char* s = PyUnicode_Check(syntax.get()) ? PyUnicode_AsUTF8(syntax.get()) : nullptr;
    if (!s) return Outcome::fallback;
    ctx.syntax = s;
    ctx.syntax_known = true;
  }
  const bool standard = ctx.syntax == "on";
  out += ctx.syntax == "off" ? "E'" : "'";
  // In UTF-8, bytes 0x27 and 0x5c are never part of a multibyte character.
  for (char c : text) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\\' && !standard) {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  out += '\'';
  return Outcome::done;
}

Outcome quote(Context& ctx, PyObject* value, std::string& out) {
  if (value == Py_None) {
    out += "NULL";
    return Outcome::done;
  }
  PyTypeObject* type = Py_TYPE(value);
  if (type == &PyBool_Type) {
    if (!default_adapter(kBool)) return PyErr_Occurred() ? Outcome::error : Outcome::fallback;
    out += value == Py_True ? "true" : "false";
    return Outcome::done;
  }
  if (type == &PyLong_Type) {
    if (!default_adapter(kInt)) return PyErr_Occurred() ? Outcome::error : Outcome::fallback;
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (!overflow) {
      append_number(out, std::to_string(n));
      return Outcome::done;
    }
    python::PyRef text = python::PyRef::steal(PyObject_Str(value));
    if (!text) return Outcome::error;
    append_number(out, PyUnicode_AsUTF8(text.get()));
    return Outcome::done;
  }
  if (type == &PyFloat_Type) {
    if (!default_adapter(kFloat)) return PyErr_Occurred() ? Outcome::error : Outcome::fallback;
    double d = PyFloat_AS_DOUBLE(value);
    if (std::isnan(d)) {
      out += "'NaN'::float";
    } else if (std::isinf(d)) {
      out += d > 0 ? "'Infinity'::float" : "'-Infinity'::float";
    } else {
      char* repr = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, nullptr);
      if (!repr) return Outcome::error;
      append_number(out, repr);
      PyMem_Free(repr);
    }
    return Outcome::done;
  }
  if (type == &PyUnicode_Type) {
    if (!default_adapter(kStr)) return PyErr_Occurred() ? Outcome::error : Outcome::fallback;
    return quote_text(ctx, value, out);
  }
  return Outcome::fallback;
}

// Interpolates `query` (no NUL) into `out`. Only the plain shapes are handled: `%%`, `%s`
// with a tuple/list of exactly as many values, `%(name)s` with a dict holding every name; any
// other shape (and every error) is left to the Python path, which raises psycopg2's errors.
Outcome interpolate(Context& ctx, std::string_view query, PyObject* vars, std::string& out) {
  const bool named = PyDict_CheckExact(vars);
  if (!named && !PyTuple_CheckExact(vars) && !PyList_CheckExact(vars)) return Outcome::fallback;
  // A list could change size while Python runs (server_string_syntax): index a snapshot.
  python::PyRef values = python::PyRef::borrow(vars);
  if (PyList_CheckExact(vars)) {
    values = python::PyRef::steal(PyList_AsTuple(vars));
    if (!values) return Outcome::error;
    vars = values.get();
  }
  Py_ssize_t used = 0;
  size_t start = 0;
  out.reserve(query.size() + 16);
  for (;;) {
    size_t pos = query.find('%', start);
    if (pos == std::string_view::npos) {
      out.append(query.substr(start));
      break;
    }
    out.append(query.substr(start, pos - start));
    if (pos + 1 >= query.size()) return Outcome::fallback;
    char next = query[pos + 1];
    if (next == '%') {
      out += '%';
      start = pos + 2;
      continue;
    }
    PyObject* value;  // borrowed
    if (next == 's' && !named) {
      if (used >= PySequence_Fast_GET_SIZE(vars)) return Outcome::fallback;
      value = PySequence_Fast_GET_ITEM(vars, used);
      ++used;
      start = pos + 2;
    } else if (next == '(' && named) {
      size_t close = query.find(')', pos + 2);
      if (close == std::string_view::npos || close + 1 >= query.size() ||
          query[close + 1] != 's') {
        return Outcome::fallback;
      }
      std::string_view name = query.substr(pos + 2, close - pos - 2);
      if (name.find_first_of("(%") != std::string_view::npos) return Outcome::fallback;
      python::PyRef key = python::PyRef::steal(
          PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), nullptr));
      if (!key) {
        PyErr_Clear();
        return Outcome::fallback;
      }
      value = PyDict_GetItemWithError(vars, key.get());
      if (!value) return PyErr_Occurred() ? Outcome::error : Outcome::fallback;
      start = close + 2;
    } else {
      return Outcome::fallback;
    }
    // Held while quoting: server_string_syntax() runs Python, which must not free it under us.
    python::PyRef held = python::PyRef::borrow(value);
    Outcome quoted = quote(ctx, held.get(), out);
    if (quoted != Outcome::done) return quoted;
  }
  if (!named && used != PySequence_Fast_GET_SIZE(vars)) return Outcome::fallback;
  if (named && PyDict_GET_SIZE(vars) == 0) return Outcome::fallback;
  return Outcome::done;
}

// mogrify_fast(query: bytes, vars, conn) -> bytes, or None when the Python path must run.
PyObject* mogrify_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "mogrify_fast(query, vars, conn) takes 3 arguments");
    return nullptr;
  }
  PyObject* query = args[0];
  PyObject* vars = args[1];
  PyObject* conn = args[2];
  if (!quoting.adapters || !PyBytes_CheckExact(query) || conn == Py_None) Py_RETURN_NONE;
  static const python::InternedName codec_name("_codec");
  python::PyRef codec = python::PyRef::steal(PyObject_GetAttr(conn, codec_name.get()));
  if (!codec) return nullptr;
  if (!is_utf8_codec(codec.get())) Py_RETURN_NONE;  // the Python path encodes with the codec
  std::string_view text(PyBytes_AS_STRING(query), static_cast<size_t>(PyBytes_GET_SIZE(query)));
  if (text.find('\0') != std::string_view::npos) Py_RETURN_NONE;
  Context ctx{conn};
  std::string out;
  switch (interpolate(ctx, text, vars, out)) {
    case Outcome::done:
      return PyBytes_FromStringAndSize(out.data(), static_cast<Py_ssize_t>(out.size()));
    case Outcome::fallback:
      Py_RETURN_NONE;
    case Outcome::error:
      break;
  }
  return nullptr;
}

// set_quoting(adapters, ISQLQuote, Int, Boolean, Float, QuotedString, server_string_syntax)
PyObject* set_quoting(PyObject*, PyObject* args) {
  PyObject *adapters, *protocol, *syntax;
  PyObject* defaults[4];
  if (!PyArg_ParseTuple(args, "O!OOOOOO", &PyDict_Type, &adapters, &protocol, &defaults[kInt],
                        &defaults[kBool], &defaults[kFloat], &defaults[kStr], &syntax)) {
    return nullptr;
  }
  PyObject* types[4] = {reinterpret_cast<PyObject*>(&PyLong_Type),
                        reinterpret_cast<PyObject*>(&PyBool_Type),
                        reinterpret_cast<PyObject*>(&PyFloat_Type),
                        reinterpret_cast<PyObject*>(&PyUnicode_Type)};
  for (int i = 0; i < 4; ++i) {
    quoting.keys[i].pin(python::PyRef::steal(python::require(PyTuple_Pack(2, types[i], protocol))));
    quoting.defaults[i].pin(python::PyRef::borrow(defaults[i]));
  }
  quoting.string_syntax.pin(python::PyRef::borrow(syntax));
  quoting.adapters.pin(python::PyRef::borrow(adapters));
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    python::method<mogrify_fast, METH_FASTCALL>(
        "mogrify_fast", "mogrify_fast(query, vars, conn) -> bytes, or None: use the Python path"),
    python::method<set_quoting, METH_VARARGS>(
        "set_quoting",
        "set_quoting(adapters, ISQLQuote, Int, Boolean, Float, QuotedString, string_syntax)"),
    python::kEndMethods};

}  // namespace

void add_fast_mogrify(PyObject* module) {
  python::require(PyModule_AddFunctions(module, methods) == 0);
}

}  // namespace puff::psycopg
