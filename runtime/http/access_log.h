// Access log lines, one per finished response, written to stderr by a thread of their own in
// batches of whole lines (lines from several IO threads or worker processes never interleave).
// Formats: common (Apache's Common Log Format with the duration added) and json (one object per
// line).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/types.h"

namespace puff::http {

enum class AccessLogFormat { off, common, json };

// "" when `name` is valid ("common", "json", "off"), else the message.
std::string parse_access_log_format(const std::string& name, AccessLogFormat* out);

struct AccessRecord {
  const RequestHead* request = nullptr;
  int status = 0;
  std::uint64_t body_bytes = 0;  // response body bytes sent
  double duration_s = 0;         // from the request head to the last byte queued
  std::string user_agent;
  std::string referer;
};

std::string format_access_line(AccessLogFormat format, const AccessRecord& record);
// Any thread: the line goes out within 50 ms (or at once when 16 KiB wait).
void write_access_line(std::string_view line);
// Any thread: writes what waits now (before the process exits).
void flush_access_log();

}  // namespace puff::http
