#include "http/body_pace.h"

#include <gtest/gtest.h>

namespace puff::http {
namespace {

using namespace std::chrono_literals;
const BodyPace::Clock::time_point t0{};

TEST(BodyPace, ABodyAtTheRateNeverRunsOut) {
  BodyPace pace(1000, 10);
  pace.waiting(t0);
  for (int second = 1; second <= 60; ++second) {
    pace.received(1000, t0 + std::chrono::seconds(second));
    EXPECT_DOUBLE_EQ(pace.seconds_left(t0 + std::chrono::seconds(second)), 10);
  }
}

TEST(BodyPace, ATrickleRunsOutAfterAboutTheWindow) {
  BodyPace pace(1000, 10);
  pace.waiting(t0);
  auto now = t0;
  int seconds = 0;
  while (pace.seconds_left(now) > 0 && seconds < 100) {
    now += 1s;
    ++seconds;
    pace.received(10, now);  // 10 bytes/s, a hundredth of the rate
  }
  EXPECT_GE(seconds, 10);
  EXPECT_LE(seconds, 11);
}

TEST(BodyPace, AFastStartDoesNotPayForALongStall) {
  BodyPace pace(1000, 10);
  pace.waiting(t0);
  pace.received(10'000'000, t0 + 1s);
  EXPECT_DOUBLE_EQ(pace.seconds_left(t0 + 1s), 10);
  EXPECT_DOUBLE_EQ(pace.seconds_left(t0 + 11s), 0);
}

TEST(BodyPace, TimeNobodyAskedForTheBodyCostsNothing) {
  BodyPace pace(1000, 10);
  pace.waiting(t0);
  pace.paused(t0 + 4s);  // the application works for a minute before it reads on
  pace.waiting(t0 + 64s);
  EXPECT_DOUBLE_EQ(pace.seconds_left(t0 + 64s), 6);
  EXPECT_DOUBLE_EQ(pace.seconds_left(t0 + 69s), 1);
}

TEST(BodyPace, WithoutARateOnlyAWaitWithoutBytesRunsOut) {
  BodyPace pace(0, 60);
  pace.waiting(t0);
  pace.received(1, t0 + 59s);
  EXPECT_DOUBLE_EQ(pace.seconds_left(t0 + 118s), 1);
  EXPECT_DOUBLE_EQ(pace.seconds_left(t0 + 119s), 0);
}

}  // namespace
}  // namespace puff::http
