#include "pg_result.h"

#include <libpq-fe.h>

#include <new>

#include "row_builder.h"

namespace puff::psycopg {
namespace {

struct ResultObject {
  PyObject_HEAD
  pg::Result result;  // constructed in place by wrap_result, destroyed in dealloc
};

PyTypeObject* result_type = nullptr;

ResultObject* self_of(PyObject* self) { return reinterpret_cast<ResultObject*>(self); }

void dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  self_of(self)->result.~Result();
  type->tp_free(self);
  Py_DECREF(type);  // instances of heap types own a reference to their type
}

PyObject* get_status(PyObject* self, void*) {
  return PyLong_FromLong(self_of(self)->result.status());
}
PyObject* get_ntuples(PyObject* self, void*) {
  return PyLong_FromLong(self_of(self)->result.rows());
}
PyObject* get_nfields(PyObject* self, void*) {
  return PyLong_FromLong(self_of(self)->result.cols());
}
PyObject* get_cmd_status(PyObject* self, void*) {
  std::string_view s = self_of(self)->result.command_status();
  return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
}
PyObject* get_cmd_tuples(PyObject* self, void*) {
  return PyLong_FromLongLong(self_of(self)->result.affected_rows());
}
PyObject* get_oid_value(PyObject* self, void*) {
  Oid oid = self_of(self)->result.inserted_oid();
  if (oid == InvalidOid) Py_RETURN_NONE;
  return PyLong_FromUnsignedLong(oid);
}

// The PGresult's address, for psycopg2's cursor.pgresult_ptr (libpq calls through ctypes).
PyObject* get_ptr(PyObject* self, void*) {
  return PyLong_FromVoidPtr(self_of(self)->result.get());
}

// fields() -> [(name: bytes, type_oid, fsize, fmod, table_oid, table_column), ...]
PyObject* fields(PyObject* self, PyObject*) {
  const pg::Result& r = self_of(self)->result;
  const int cols = r.cols();
  python::PyRef out = python::PyRef::steal(PyList_New(cols));
  if (!out) return nullptr;
  for (int c = 0; c < cols; ++c) {
    std::string_view name = r.field_name(c);
    PyObject* item = Py_BuildValue("(y# k i i k i)", name.data(),
                                   static_cast<Py_ssize_t>(name.size()),
                                   static_cast<unsigned long>(r.field_type(c)), r.field_size(c),
                                   r.field_modifier(c),
                                   static_cast<unsigned long>(PQftable(r.get(), c)),
                                   PQftablecol(r.get(), c));
    if (!item) return nullptr;
    PyList_SET_ITEM(out.get(), c, item);
  }
  return out.release();
}

// value(row, col) -> bytes | None: the raw text of one value.
PyObject* value(PyObject* self, PyObject* args) {
  int row, col;
  if (!PyArg_ParseTuple(args, "ii", &row, &col)) return nullptr;
  const pg::Result& r = self_of(self)->result;
  if (row < 0 || row >= r.rows() || col < 0 || col >= r.cols()) {
    PyErr_SetString(PyExc_IndexError, "value(): row or column out of range");
    return nullptr;
  }
  if (r.is_null(row, col)) Py_RETURN_NONE;
  std::string_view v = r.value(row, col);
  return PyBytes_FromStringAndSize(v.data(), static_cast<Py_ssize_t>(v.size()));
}

// rows(start, stop, casters, cursor, codec, row_factory) -> list of rows start..stop-1.
PyObject* rows(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 6) {
    PyErr_SetString(PyExc_TypeError,
                    "rows(start, stop, casters, cursor, codec, row_factory) takes 6 arguments");
    return nullptr;
  }
  const pg::Result& r = self_of(self)->result;
  long start = PyLong_AsLong(args[0]);
  long stop = PyLong_AsLong(args[1]);
  if (PyErr_Occurred()) return nullptr;
  if (start < 0) start = 0;
  if (stop > r.rows()) stop = r.rows();
  RowBuilder builder;
  if (!builder.prepare(r, args[2], args[3], args[4], args[5])) return nullptr;
  const Py_ssize_t count = stop > start ? stop - start : 0;
  python::PyRef out = python::PyRef::steal(PyList_New(count));
  if (!out) return nullptr;
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* row = builder.build(static_cast<int>(start + i));
    if (!row) return nullptr;
    PyList_SET_ITEM(out.get(), i, row);
  }
  return out.release();
}

PyGetSetDef getset[] = {
    {"status", get_status, nullptr, "libpq's ExecStatusType", nullptr},
    {"ntuples", get_ntuples, nullptr, "number of rows", nullptr},
    {"nfields", get_nfields, nullptr, "number of columns", nullptr},
    {"cmd_status", get_cmd_status, nullptr, "command tag, e.g. 'INSERT 0 1'", nullptr},
    {"cmd_tuples", get_cmd_tuples, nullptr, "rows affected, -1 when not reported", nullptr},
    {"oid_value", get_oid_value, nullptr, "OID of an inserted row, or None", nullptr},
    {"ptr", get_ptr, nullptr, "address of the PGresult (valid while this object lives)", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMethodDef methods[] = {
    {"fields", fields, METH_NOARGS, "fields() -> [(name, type_oid, fsize, fmod, table, col)]"},
    {"value", value, METH_VARARGS, "value(row, col) -> bytes | None"},
    {"rows", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(rows)), METH_FASTCALL,
     "rows(start, stop, casters, cursor, codec, row_factory) -> list of rows"},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool add_result_type(PyObject* module) {
  PyType_Slot slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(dealloc)},
                         {Py_tp_getset, getset},
                         {Py_tp_methods, methods},
                         {Py_tp_doc, const_cast<char*>("A PostgreSQL query result.")},
                         {0, nullptr}};
  PyType_Spec spec = {"psycopg2._psycopg.PGResult", sizeof(ResultObject), 0,
                      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};
  if (!result_type) {
    result_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&spec));
    if (!result_type) return false;
  }
  return PyModule_AddObjectRef(module, "PGResult", reinterpret_cast<PyObject*>(result_type)) == 0;
}

PyObject* wrap_result(pg::Result result) {
  PyObject* self = result_type->tp_alloc(result_type, 0);
  if (!self) return nullptr;
  new (&self_of(self)->result) pg::Result(std::move(result));
  return self;
}

}  // namespace puff::psycopg
