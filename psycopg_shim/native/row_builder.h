// Turning the text values of a result into Python rows, with psycopg2's typecasting rules.
// Built-in casters (caster.native names a conversion) run in C++; the others are called as
// caster(value: str | None, cursor). GIL held.
#pragma once

#include <vector>

#include "pg/result.h"
#include "python/pyref.h"

namespace puff::psycopg {

// A Python codec name meaning UTF-8 ("utf_8", the connection's usual _codec, "utf-8", "utf8").
bool is_utf8_codec(PyObject* codec);

// bytea's text form (hex or escape, NUL-terminated) decoded, as psycopg2's memoryview ('c'
// format). A new reference, or nullptr with an exception set. GIL held.
PyObject* bytea_view(const char* text);

// Prepared once per result (on its first fetch) and reused for every block of rows.
class RowBuilder {
 public:
  // casters: one per column. codec: the connection's Python codec ("utf-8", ...).
  // false with a Python exception set when an argument is unusable.
  bool prepare(const pg::Result& result, PyObject* casters, PyObject* codec);
  // A new reference to row `row`, or nullptr with an exception set. cursor: passed to the
  // casters called from Python. row_factory: nullptr, or psycopg2's row_factory(cursor) -> row
  // filled by row[i] = value.
  PyObject* build(int row, PyObject* cursor, PyObject* row_factory);

 private:
  enum class Native { none, text, int_, float_, decimal, bool_, bytea };
  struct Column {
    Native native = Native::none;
    PyObject* caster = nullptr;  // borrowed from casters_
  };

  PyObject* text(const char* value, int length);
  PyObject* convert(const Column& column, const char* value, int length, PyObject* cursor);

  const pg::Result* result_ = nullptr;
  python::PyRef casters_;  // a tuple, keeps the casters alive
  python::PyRef codec_;
  bool utf8_ = true;
  std::vector<Column> columns_;
};

// The casters of `result`'s columns for `cursor`, as psycopg2 looks them up: the cursor's
// registry, the connection's, the global one (set_caster_registry), else the default. A new
// tuple, or nullptr with an exception set.
PyObject* casters_for(const pg::Result& result, PyObject* cursor);

// Adds set_caster_registry(global_dict, default_caster, lookup) to the module (_typecast calls
// it once; lookup(oid, cursor) serves cursors with their own registrations). Throws
// ErrorAlreadySet.
void add_caster_registry(PyObject* module);

}  // namespace puff::psycopg
