#include "core/turn_batch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace puff::core {
namespace {

using namespace std::chrono_literals;

TEST(TurnBatch, WithoutATurnHandsOffAtOnce) {
  int ran = 0;
  TurnBatch::defer([&] { ++ran; });
  EXPECT_EQ(ran, 1);
}

TEST(TurnBatch, HandsOffInOrderWhenTheTurnEnds) {
  std::vector<int> order;
  {
    TurnBatch turn(1h);
    TurnBatch::defer([&] { order.push_back(1); });
    TurnBatch::defer([&] { order.push_back(2); });
    turn.end_of_unit();  // within the budget: still held
    EXPECT_TRUE(order.empty());
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  TurnBatch::defer([&] { order.push_back(3); });  // the turn is closed: at once again
  EXPECT_EQ(order.size(), 3u);
}

TEST(TurnBatch, AUnitPastTheBudgetHandsOffWhatWaitsBeforeIt) {
  int ran = 0;
  TurnBatch turn(1ms);
  TurnBatch::defer([&] { ++ran; });
  std::this_thread::sleep_for(3ms);
  turn.end_of_unit();
  EXPECT_EQ(ran, 1);
  TurnBatch::defer([&] { ++ran; });  // the budget restarts with the next deferral
  turn.end_of_unit();
  EXPECT_EQ(ran, 1);
}

TEST(TurnBatch, FlushCurrentRunsWhatIsDeferredBeforeBlocking) {
  int ran = 0;
  TurnBatch::flush_current();  // no turn open: nothing to do
  TurnBatch turn(1h);
  TurnBatch::defer([&] { ++ran; });
  TurnBatch::flush_current();
  EXPECT_EQ(ran, 1);
}

TEST(TurnBatch, ATurnIsPerThread) {
  TurnBatch turn(1h);
  int ran = 0;
  std::thread other([&] { TurnBatch::defer([&] { ++ran; }); });
  other.join();
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace puff::core
