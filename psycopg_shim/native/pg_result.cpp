#include "pg_result.h"

#include <libpq-fe.h>

#include <memory>

#include "python/kit/types.h"
#include "row_builder.h"

namespace puff::psycopg {
namespace {

struct ResultState {
  pg::Result result;
  std::unique_ptr<RowBuilder> builder;  // made by the first rows() call, for every block
};

python::Pinned<PyTypeObject> result_type;

ResultState* self_of(PyObject* self) { return &python::state_of<ResultState>(self); }

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

// The columns' type OIDs, a tuple: what the cursor looks its casters up by.
PyObject* get_oids(PyObject* self, void*) {
  const pg::Result& r = self_of(self)->result;
  const int cols = r.cols();
  python::PyRef out = python::PyRef::steal(PyTuple_New(cols));
  if (!out) return nullptr;
  for (int c = 0; c < cols; ++c) {
    PyObject* oid = PyLong_FromUnsignedLong(r.field_type(c));
    if (!oid) return nullptr;
    PyTuple_SET_ITEM(out.get(), c, oid);
  }
  return out.release();
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

// The result's row builder for `cursor`: made on the first fetch with the casters the cursor's
// registries give, then kept with the result. nullptr with an exception set.
RowBuilder* builder_for(ResultState* me, PyObject* cursor) {
  const pg::Result& r = me->result;
  if (!me->builder) {
    static const python::InternedName conn_name("_conn");
    static const python::InternedName codec_name("_codec");
    python::PyRef casters = python::PyRef::steal(casters_for(r, cursor));
    if (!casters) return nullptr;
    python::PyRef conn = python::PyRef::steal(PyObject_GetAttr(cursor, conn_name.get()));
    if (!conn) return nullptr;
    python::PyRef codec = python::PyRef::steal(PyObject_GetAttr(conn.get(), codec_name.get()));
    if (!codec) return nullptr;
    auto builder = std::make_unique<RowBuilder>();
    if (!builder->prepare(r, casters.get(), codec.get())) return nullptr;
    me->builder = std::move(builder);
  }
  return me->builder.get();
}

// cursor.row_factory (psycopg2 reads it at every fetch); None -> empty.
python::PyRef row_factory_of(PyObject* cursor) {
  static const python::InternedName name("row_factory");
  python::PyRef factory = python::PyRef::steal(PyObject_GetAttr(cursor, name.get()));
  if (factory && factory.get() == Py_None) return python::PyRef::borrow(nullptr);
  return factory;
}

// rows(start, stop, cursor) -> list of the converted rows start..stop-1.
PyObject* rows(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "rows(start, stop, cursor) takes 3 arguments");
    return nullptr;
  }
  ResultState* me = self_of(self);
  long start = PyLong_AsLong(args[0]);
  long stop = PyLong_AsLong(args[1]);
  if (PyErr_Occurred()) return nullptr;
  PyObject* cursor = args[2];
  if (start < 0) start = 0;
  if (stop > me->result.rows()) stop = me->result.rows();
  RowBuilder* builder = builder_for(me, cursor);
  if (!builder) return nullptr;
  python::PyRef row_factory = row_factory_of(cursor);
  if (PyErr_Occurred()) return nullptr;
  PyObject* factory = row_factory.get();
  const Py_ssize_t count = stop > start ? stop - start : 0;
  python::PyRef out = python::PyRef::steal(PyList_New(count));
  if (!out) return nullptr;
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* row = builder->build(static_cast<int>(start + i), cursor, factory);
    if (!row) return nullptr;
    PyList_SET_ITEM(out.get(), i, row);
  }
  return out.release();
}

// row(index, cursor) -> the converted row (fetchone's path: no list, no block).
PyObject* row(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "row(index, cursor) takes 2 arguments");
    return nullptr;
  }
  ResultState* me = self_of(self);
  long index = PyLong_AsLong(args[0]);
  if (index == -1 && PyErr_Occurred()) return nullptr;
  if (index < 0 || index >= me->result.rows()) {
    PyErr_SetString(PyExc_IndexError, "row(): index out of range");
    return nullptr;
  }
  RowBuilder* builder = builder_for(me, args[1]);
  if (!builder) return nullptr;
  python::PyRef row_factory = row_factory_of(args[1]);
  if (PyErr_Occurred()) return nullptr;
  return builder->build(static_cast<int>(index), args[1], row_factory.get());
}

PyGetSetDef getset[] = {
    python::getter<get_status>("status", "libpq's ExecStatusType"),
    python::getter<get_ntuples>("ntuples", "number of rows"),
    python::getter<get_nfields>("nfields", "number of columns"),
    python::getter<get_cmd_status>("cmd_status", "command tag, e.g. 'INSERT 0 1'"),
    python::getter<get_cmd_tuples>("cmd_tuples", "rows affected, -1 when not reported"),
    python::getter<get_oid_value>("oid_value", "OID of an inserted row, or None"),
    python::getter<get_oids>("oids", "the columns' type OIDs (tuple)"),
    python::getter<get_ptr>("ptr", "address of the PGresult (valid while this object lives)"),
    python::kEndGetters};

PyMethodDef methods[] = {
    python::method<fields, METH_NOARGS>("fields",
                                        "fields() -> [(name.get(), type_oid, fsize, fmod, table, col)]"),
    python::method<value, METH_VARARGS>("value", "value(row, col) -> bytes | None"),
    python::method<rows, METH_FASTCALL>("rows", "rows(start, stop, cursor) -> list of rows"),
    python::method<row, METH_FASTCALL>("row", "row(index, cursor) -> one row"),
    python::kEndMethods};

PyType_Slot slots[] = {python::slot<Py_tp_dealloc, python::native_dealloc<ResultState>>(),
                       {Py_tp_getset, getset},
                       {Py_tp_methods, methods},
                       {Py_tp_doc, const_cast<char*>("A PostgreSQL query result.")},
                       {0, nullptr}};
PyType_Spec spec = {"psycopg2._psycopg.PGResult", sizeof(python::NativeObject<ResultState>), 0,
                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};

}  // namespace

void add_result_type(PyObject* module) { python::add_type(module, "PGResult", spec, result_type); }

PyObject* wrap_result(pg::Result result) {
  auto state = std::make_unique<ResultState>();
  state->result = std::move(result);
  return python::make_native(result_type, std::move(state)).release();
}

}  // namespace puff::psycopg
