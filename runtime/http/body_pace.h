// The slowest a request body may arrive (min_body_rate), socket-free. The client has a credit of
// `window` seconds, spent while the server waits for body bytes and earned back at 1/rate s per
// byte, never above `window`: a body slower than the rate for about `window` seconds runs out
// (408), while a fast start cannot pay for a long stall. Time in which nobody asks for the body
// (the application is busy elsewhere: the client is held back by us) costs nothing. Rate 0:
// only a wait of `window` seconds without a byte runs out (idle_timeout alone).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace puff::http {

class BodyPace {
 public:
  using Clock = std::chrono::steady_clock;

  BodyPace(double min_rate, double window_s);

  void waiting(Clock::time_point now);  // the server waits for body bytes from now on
  void received(std::size_t bytes, Clock::time_point now);
  void paused(Clock::time_point now);  // nobody asks for the body (backpressure)

  // Seconds of credit left: the wait may go on this long without another byte.
  double seconds_left(Clock::time_point now) const;

 private:
  void settle(Clock::time_point now);

  double min_rate_;
  double window_s_;
  double credit_s_;
  std::optional<Clock::time_point> waiting_since_;
};

}  // namespace puff::http
