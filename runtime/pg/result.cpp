#include "pg/result.h"

#include <charconv>

namespace puff::pg {
namespace {

std::string_view view(const char* s) { return s ? std::string_view(s) : std::string_view(); }

}  // namespace

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

PGresult* Result::release() {
  PGresult* r = result_;
  result_ = nullptr;
  return r;
}

void Result::reset(PGresult* owned) {
  if (result_) PQclear(result_);
  result_ = owned;
}

ExecStatusType Result::status() const {
  return result_ ? PQresultStatus(result_) : PGRES_FATAL_ERROR;
}

const char* Result::status_name() const { return PQresStatus(status()); }

bool Result::ok() const {
  switch (status()) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
    case PGRES_SINGLE_TUPLE:
      return true;
    default:
      return false;
  }
}

int Result::rows() const { return result_ ? PQntuples(result_) : 0; }
int Result::cols() const { return result_ ? PQnfields(result_) : 0; }

std::string_view Result::value(int row, int col) const {
  return std::string_view(PQgetvalue(result_, row, col),
                          static_cast<std::size_t>(PQgetlength(result_, row, col)));
}

bool Result::is_null(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }
int Result::length(int row, int col) const { return PQgetlength(result_, row, col); }

std::string_view Result::field_name(int col) const { return view(PQfname(result_, col)); }
int Result::field_number(const char* name) const { return PQfnumber(result_, name); }
Oid Result::field_type(int col) const { return PQftype(result_, col); }
int Result::field_modifier(int col) const { return PQfmod(result_, col); }
int Result::field_size(int col) const { return PQfsize(result_, col); }
int Result::field_format(int col) const { return PQfformat(result_, col); }

std::string_view Result::command_status() const {
  return result_ ? view(PQcmdStatus(result_)) : std::string_view();
}

std::int64_t Result::affected_rows() const {
  if (!result_) return -1;
  std::string_view text = view(PQcmdTuples(result_));
  std::int64_t n = -1;
  if (text.empty() ||
      std::from_chars(text.data(), text.data() + text.size(), n).ec != std::errc()) {
    return -1;
  }
  return n;
}

Oid Result::inserted_oid() const { return result_ ? PQoidValue(result_) : InvalidOid; }

std::string_view Result::error_field(int code) const {
  return result_ ? view(PQresultErrorField(result_, code)) : std::string_view();
}

std::string_view Result::error_message() const {
  return result_ ? view(PQresultErrorMessage(result_)) : std::string_view();
}

}  // namespace puff::pg
