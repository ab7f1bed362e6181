// One PGresult, uniquely owned (PQclear on destruction), with the accessors the drivers need.
// Values are text (the layer sends and receives the text format); views point into the
// PGresult and live as long as the Result does.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace puff::pg {

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* owned) : result_(owned) {}
  ~Result() { reset(); }
  Result(Result&& other) noexcept : result_(other.release()) {}
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  explicit operator bool() const { return result_ != nullptr; }
  PGresult* get() const { return result_; }
  PGresult* release();
  void reset(PGresult* owned = nullptr);

  ExecStatusType status() const;
  const char* status_name() const;  // "PGRES_TUPLES_OK", ...
  // COMMAND_OK, TUPLES_OK or EMPTY_QUERY (also SINGLE_TUPLE).
  bool ok() const;

  int rows() const;
  int cols() const;
  std::string_view value(int row, int col) const;  // "" for NULL: check is_null()
  bool is_null(int row, int col) const;
  int length(int row, int col) const;

  std::string_view field_name(int col) const;
  int field_number(const char* name) const;  // -1 when absent
  Oid field_type(int col) const;
  int field_modifier(int col) const;
  int field_size(int col) const;
  int field_format(int col) const;  // 0 text, 1 binary

  std::string_view command_status() const;  // "INSERT 0 3", "SELECT 2"
  // Rows affected per PQcmdTuples; -1 when the command reports none.
  std::int64_t affected_rows() const;
  Oid inserted_oid() const;

  // Error fields (PQresultErrorField codes PG_DIAG_*); "" when absent.
  std::string_view error_field(int code) const;
  std::string_view sqlstate() const { return error_field(PG_DIAG_SQLSTATE); }
  std::string_view primary_message() const { return error_field(PG_DIAG_MESSAGE_PRIMARY); }
  std::string_view detail() const { return error_field(PG_DIAG_MESSAGE_DETAIL); }
  std::string_view hint() const { return error_field(PG_DIAG_MESSAGE_HINT); }
  std::string_view severity() const { return error_field(PG_DIAG_SEVERITY_NONLOCALIZED); }
  std::string_view statement_position() const { return error_field(PG_DIAG_STATEMENT_POSITION); }
  std::string_view error_message() const;  // PQresultErrorMessage (multi-line)

 private:
  PGresult* result_ = nullptr;
};

}  // namespace puff::pg
