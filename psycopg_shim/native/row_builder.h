// Turning the text values of a result into Python rows, with psycopg2's typecasting rules.
// Built-in casters (caster.native names a conversion) run in C++; the others are called as
// caster(value: str | None, cursor). GIL held.
#pragma once

#include <vector>

#include "pg/result.h"
#include "python/pyref.h"

namespace puff::psycopg {

// bytea's text form (hex or escape, NUL-terminated) decoded, as psycopg2's memoryview ('c'
// format). A new reference, or nullptr with an exception set. GIL held.
PyObject* bytea_view(const char* text);

class RowBuilder {
 public:
  // casters: one per column. codec: the connection's Python codec ("utf-8", ...).
  // row_factory: None, or psycopg2's row_factory(cursor) -> row filled by row[i] = value.
  // false with a Python exception set when an argument is unusable.
  bool prepare(const pg::Result& result, PyObject* casters, PyObject* cursor, PyObject* codec,
               PyObject* row_factory);
  // A new reference to row `row`, or nullptr with an exception set.
  PyObject* build(int row);

 private:
  enum class Native { none, text, int_, float_, decimal, bool_, bytea };
  struct Column {
    Native native = Native::none;
    PyObject* caster = nullptr;  // borrowed from the casters sequence (kept alive by it)
  };

  PyObject* text(const char* value, int length);
  PyObject* convert(const Column& column, const char* value, int length);

  const pg::Result* result_ = nullptr;
  python::PyRef casters_;  // a tuple, keeps the casters alive
  PyObject* cursor_ = nullptr;  // borrowed: the caller keeps it alive for the build() calls
  PyObject* row_factory_ = nullptr;
  python::PyRef codec_;
  bool utf8_ = true;
  std::vector<Column> columns_;
};

}  // namespace puff::psycopg
