#include "row_builder.h"

#include "python/kit/types.h"

#include <libpq-fe.h>

#include <cstring>
#include <string_view>

namespace puff::psycopg {
namespace {

PyObject* decimal_type() {
  static python::Pinned<> type;  // like the decimal module, kept for the process's life
  if (!type) {
    python::PyRef module = python::PyRef::steal(PyImport_ImportModule("decimal"));
    if (!module) return nullptr;
    python::PyRef decimal = python::PyRef::steal(PyObject_GetAttrString(module.get(), "Decimal"));
    if (!decimal) return nullptr;
    type.pin(std::move(decimal));
  }
  return type.get();
}

// Decimal digits with an optional sign, short enough for a long long: the common case.
PyObject* parse_int(const char* value, int length) {
  if (length > 0 && length < 19) {
    const char* p = value;
    bool negative = *p == '-';
    if (negative || *p == '+') ++p;
    long long n = 0;
    const char* end = value + length;
    if (p < end) {
      for (; p < end && *p >= '0' && *p <= '9'; ++p) n = n * 10 + (*p - '0');
      if (p == end) return PyLong_FromLongLong(negative ? -n : n);
    }
  }
  return PyLong_FromString(value, nullptr, 10);
}

}  // namespace

bool is_utf8_codec(PyObject* codec) {
  if (!PyUnicode_Check(codec)) return false;
  const char* name = PyUnicode_AsUTF8(codec);
  if (!name) {
    PyErr_Clear();
    return false;
  }
  return std::strcmp(name, "utf_8") == 0 || std::strcmp(name, "utf-8") == 0 ||
         std::strcmp(name, "utf8") == 0;
}

bool RowBuilder::prepare(const pg::Result& result, PyObject* casters, PyObject* codec) {
  result_ = &result;
  casters_ = python::PyRef::steal(PySequence_Tuple(casters));
  if (!casters_) return false;
  const int cols = result.cols();
  if (PyTuple_GET_SIZE(casters_.get()) != cols) {
    PyErr_Format(PyExc_ValueError, "rows(): %d casters for %d columns",
                 static_cast<int>(PyTuple_GET_SIZE(casters_.get())), cols);
    return false;
  }
  if (!PyUnicode_Check(codec)) {
    PyErr_SetString(PyExc_TypeError, "rows(): the connection's codec must be a str");
    return false;
  }
  codec_ = python::PyRef::borrow(codec);
  utf8_ = is_utf8_codec(codec);

  columns_.assign(cols, Column{});
  for (int c = 0; c < cols; ++c) {
    Column& column = columns_[c];
    column.caster = PyTuple_GET_ITEM(casters_.get(), c);
    static const python::InternedName native_name("native");
    python::PyRef native = python::PyRef::steal(PyObject_GetAttr(column.caster, native_name.get()));
    if (!native) {
      PyErr_Clear();  // a plain callable: always called
      continue;
    }
    if (!PyUnicode_Check(native.get())) continue;
    std::string_view name = PyUnicode_AsUTF8(native.get());
    if (name == "text") column.native = Native::text;
    else if (name == "int") column.native = Native::int_;
    else if (name == "float") column.native = Native::float_;
    else if (name == "decimal") column.native = Native::decimal;
    else if (name == "bool") column.native = Native::bool_;
    else if (name == "bytea") column.native = Native::bytea;
  }
  return true;
}

PyObject* RowBuilder::text(const char* value, int length) {
  if (utf8_) return PyUnicode_DecodeUTF8(value, length, "strict");
  return PyUnicode_Decode(value, length, PyUnicode_AsUTF8(codec_.get()), "strict");
}

PyObject* RowBuilder::convert(const Column& column, const char* value, int length,
                              PyObject* cursor) {
  switch (column.native) {
    case Native::text:
      return text(value, length);
    case Native::int_:
      return parse_int(value, length);
    case Native::float_: {
      double d = PyOS_string_to_double(value, nullptr, nullptr);
      if (d == -1.0 && PyErr_Occurred()) return nullptr;
      return PyFloat_FromDouble(d);
    }
    case Native::decimal: {
      PyObject* type = decimal_type();
      if (!type) return nullptr;
      python::PyRef s = python::PyRef::steal(PyUnicode_FromStringAndSize(value, length));
      if (!s) return nullptr;
      return PyObject_CallOneArg(type, s.get());
    }
    case Native::bool_:
      return Py_NewRef(value[0] == 't' ? Py_True : Py_False);
    case Native::bytea:
      return bytea_view(value);
    case Native::none:
      break;
  }
  python::PyRef s = python::PyRef::steal(text(value, length));
  if (!s) return nullptr;
  PyObject* args[] = {s.get(), cursor};
  return PyObject_Vectorcall(column.caster, args, 2, nullptr);
}

PyObject* bytea_view(const char* text) {
  size_t size = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
  if (!raw) return PyErr_NoMemory();
  python::PyRef bytes = python::PyRef::steal(
      PyBytes_FromStringAndSize(reinterpret_cast<char*>(raw), static_cast<Py_ssize_t>(size)));
  PQfreemem(raw);
  if (!bytes) return nullptr;
  // psycopg2 returns bytea as a memoryview of format 'c' (items are 1-byte bytes).
  python::PyRef view = python::PyRef::steal(PyMemoryView_FromObject(bytes.get()));
  if (!view) return nullptr;
  return PyObject_CallMethod(view.get(), "cast", "s", "c");
}

PyObject* RowBuilder::build(int row, PyObject* cursor, PyObject* row_factory) {
  const int cols = static_cast<int>(columns_.size());
  python::PyRef out;
  if (row_factory) {
    out = python::PyRef::steal(PyObject_CallOneArg(row_factory, cursor));
  } else {
    out = python::PyRef::steal(PyTuple_New(cols));
  }
  if (!out) return nullptr;
  PGresult* r = result_->get();
  for (int c = 0; c < cols; ++c) {
    const Column& column = columns_[c];
    PyObject* value;
    if (PQgetisnull(r, row, c)) {
      if (column.native != Native::none) {
        value = Py_NewRef(Py_None);
      } else {
        PyObject* args[] = {Py_None, cursor};
        value = PyObject_Vectorcall(column.caster, args, 2, nullptr);
      }
    } else {
      value = convert(column, PQgetvalue(r, row, c), PQgetlength(r, row, c), cursor);
    }
    if (!value) return nullptr;
    if (row_factory) {
      python::PyRef owned = python::PyRef::steal(value);
      python::PyRef index = python::PyRef::steal(PyLong_FromLong(c));
      if (!index || PyObject_SetItem(out.get(), index.get(), owned.get()) < 0) return nullptr;
    } else {
      PyTuple_SET_ITEM(out.get(), c, value);
    }
  }
  return out.release();
}

// ---- caster lookup ---------------------------------------------------------------------------

namespace {

struct CasterRegistry {
  python::Pinned<> global;    // _typecast.string_types
  python::Pinned<> fallback;  // _typecast._DEFAULT
  python::Pinned<> lookup;    // _typecast.lookup(oid, cursor)
};
CasterRegistry registry;

PyObject* set_caster_registry(PyObject*, PyObject* args) {
  PyObject *global, *fallback, *lookup;
  if (!PyArg_ParseTuple(args, "O!OO", &PyDict_Type, &global, &fallback, &lookup)) return nullptr;
  registry.global.pin(python::PyRef::borrow(global));
  registry.fallback.pin(python::PyRef::borrow(fallback));
  registry.lookup.pin(python::PyRef::borrow(lookup));
  Py_RETURN_NONE;
}

// The registry dict `owner.<name>` (a cursor's or connection's own casters): a new reference,
// nullptr when empty or None (nothing to look up there). `*usable` turns false when it is
// something else than a dict (psycopg2's lookup() is then asked); errors are set.
python::PyRef own_registry(PyObject* owner, PyObject* name, bool* usable, bool* error) {
  python::PyRef reg = python::PyRef::steal(PyObject_GetAttr(owner, name));
  if (!reg) {
    *error = true;
    return reg;
  }
  if (reg.get() == Py_None) return python::PyRef::borrow(nullptr);
  if (!PyDict_Check(reg.get())) {
    *usable = false;
    return reg;
  }
  if (PyDict_GET_SIZE(reg.get()) == 0) return python::PyRef::borrow(nullptr);
  return reg;
}

// registry[oid] when present: a borrowed reference, nullptr when absent (or an error is set).
PyObject* find_in(PyObject* registry, PyObject* oid) {
  return registry ? PyDict_GetItemWithError(registry, oid) : nullptr;
}

PyMethodDef registry_methods[] = {
    python::method<set_caster_registry, METH_VARARGS>(
        "set_caster_registry",
        "set_caster_registry(global_dict, default, lookup): where rows() finds the casters"),
    python::kEndMethods};

}  // namespace

PyObject* casters_for(const pg::Result& result, PyObject* cursor) {
  if (!registry.global) {
    PyErr_SetString(PyExc_RuntimeError, "psycopg2._typecast did not set the caster registry");
    return nullptr;
  }
  static const python::InternedName typecasters_name("_typecasters");
  static const python::InternedName conn_name("_conn");
  // psycopg2's order: the cursor's casters, the connection's (Django registers jsonb there),
  // the global ones, the default. Dicts are read here; anything else asks lookup().
  bool usable = true, error = false;
  python::PyRef by_cursor = own_registry(cursor, typecasters_name.get(), &usable, &error);
  python::PyRef by_conn;
  if (!error && usable) {
    python::PyRef conn = python::PyRef::steal(PyObject_GetAttr(cursor, conn_name.get()));
    if (!conn) return nullptr;
    if (conn.get() != Py_None) {
      by_conn = own_registry(conn.get(), typecasters_name.get(), &usable, &error);
    }
  }
  if (error) return nullptr;
  const int cols = result.cols();
  python::PyRef out = python::PyRef::steal(PyTuple_New(cols));
  if (!out) return nullptr;
  for (int c = 0; c < cols; ++c) {
    python::PyRef oid = python::PyRef::steal(PyLong_FromUnsignedLong(result.field_type(c)));
    if (!oid) return nullptr;
    PyObject* caster;
    if (!usable) {
      PyObject* args[] = {oid.get(), cursor};
      caster = PyObject_Vectorcall(registry.lookup.get(), args, 2, nullptr);
      if (!caster) return nullptr;
    } else {
      PyObject* found = find_in(by_cursor.get(), oid.get());
      if (!found && !PyErr_Occurred()) found = find_in(by_conn.get(), oid.get());
      if (!found && !PyErr_Occurred()) found = PyDict_GetItemWithError(registry.global.get(), oid.get());
      if (!found && PyErr_Occurred()) return nullptr;
      caster = Py_NewRef(found ? found : registry.fallback.get());
    }
    PyTuple_SET_ITEM(out.get(), c, caster);
  }
  return out.release();
}

void add_caster_registry(PyObject* module) {
  python::require(PyModule_AddFunctions(module, registry_methods) == 0);
}

}  // namespace puff::psycopg
