#include "http/body_pace.h"

#include <algorithm>

namespace puff::http {

BodyPace::BodyPace(double min_rate, double window_s)
    : min_rate_(min_rate), window_s_(window_s), credit_s_(window_s) {}

void BodyPace::settle(Clock::time_point now) {
  if (!waiting_since_) return;
  credit_s_ -= std::chrono::duration<double>(now - *waiting_since_).count();
  waiting_since_ = now;
}

void BodyPace::waiting(Clock::time_point now) {
  if (!waiting_since_) waiting_since_ = now;
}

void BodyPace::received(std::size_t bytes, Clock::time_point now) {
  if (bytes == 0) return;
  settle(now);
  if (min_rate_ <= 0) {
    credit_s_ = window_s_;  // progress: the idle clock starts again
  } else if (credit_s_ > 0) {
    credit_s_ = std::min(window_s_, credit_s_ + static_cast<double>(bytes) / min_rate_);
  }
}

void BodyPace::paused(Clock::time_point now) {
  settle(now);
  waiting_since_.reset();
}

double BodyPace::seconds_left(Clock::time_point now) const {
  double spent =
      waiting_since_ ? std::chrono::duration<double>(now - *waiting_since_).count() : 0.0;
  return std::max(0.0, credit_s_ - spent);
}

}  // namespace puff::http
