#include "core/turn_batch.h"

#include <cassert>
#include <utility>

namespace puff::core {

namespace {
thread_local TurnBatch* t_open_turn = nullptr;
}

TurnBatch::TurnBatch(Clock::duration budget) : budget_(budget) {
  assert(t_open_turn == nullptr);
  t_open_turn = this;
}

TurnBatch::~TurnBatch() {
  flush();
  t_open_turn = nullptr;
}

void TurnBatch::end_of_unit() {
  if (!deferred_.empty() && Clock::now() - oldest_ >= budget_) flush();
}

void TurnBatch::defer(std::function<void()> hand_off) {
  TurnBatch* turn = t_open_turn;
  if (turn == nullptr) return hand_off();
  if (turn->deferred_.empty()) turn->oldest_ = Clock::now();
  turn->deferred_.push_back(std::move(hand_off));
}

void TurnBatch::flush_current() {
  if (t_open_turn != nullptr) t_open_turn->flush();
}

void TurnBatch::flush() {
  // A hand-off may defer again (it should not, but then it runs in the next flush).
  std::vector<std::function<void()>> now;
  now.swap(deferred_);
  for (auto& hand_off : now) hand_off();
}

}  // namespace puff::core
