// Seconds as configured (double) <-> steady_clock durations, and the reconnect backoff that the
// PostgreSQL and Redis pools share.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace puff::core {

using Clock = std::chrono::steady_clock;

inline Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// "2.5 s", for messages.
inline std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", s);
  return text;
}

// The wait before reconnect attempt number `failures` (1 = the first retry): 50 ms, doubling,
// at most `max_s`.
inline Clock::duration backoff_delay(int failures, double max_s) {
  double delay = 0.05 * std::pow(2.0, std::min(failures - 1, 20));
  return seconds(std::min(delay, std::max(max_s, 0.0)));
}

}  // namespace puff::core
