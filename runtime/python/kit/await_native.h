// Starting a native operation and waiting for the values it delivers, typed: the one way the
// glue waits (on top of wait_native: a parked greenlet on the hub, a thread with the GIL
// released elsewhere).
//
//   auto leased = await_native<std::optional<pg::Error>, pg::Lease>(
//       [&](auto deliver) { pool->acquire(std::move(deliver)); });
//   if (!leased) return nullptr;                      // interrupted: Python exception set
//   auto& [error, lease] = *leased;
//
// The values land in a heap slot shared with the operation's callback: nothing points into
// the (copied-away) stack of the waiting greenlet, and an operation that delivers after an
// interrupted wait drops its values with the slot (a lease goes back to its pool).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "python/wait.h"

namespace puff::python {

// The callback handed to the operation: called once, from any thread, without the GIL. It
// only moves C++ values; copies share one slot.
template <class... Results>
class Deliver {
 public:
  using Slot = std::optional<std::tuple<Results...>>;

  Deliver(std::shared_ptr<Slot> slot, Completion done)
      : slot_(std::move(slot)), done_(std::move(done)) {}

  void operator()(Results... results) const {
    slot_->emplace(std::move(results)...);
    done_.complete();
  }

 private:
  std::shared_ptr<Slot> slot_;
  Completion done_;
};

namespace detail {
template <class... Results>
struct AwaitedOf {
  using type = std::tuple<Results...>;
};
template <class Result>
struct AwaitedOf<Result> {
  using type = Result;
};
}  // namespace detail

// One result type: the value itself; none or several: a tuple.
template <class... Results>
using Awaited = typename detail::AwaitedOf<Results...>::type;

// Calls `start(deliver)` and waits until the operation calls `deliver(results...)`. Returns
// the results, or nullopt with a Python exception set when the wait was interrupted (then
// `abandon`, if given, ran to cancel the operation). `drive`: see wait_native. GIL held.
template <class... Results, class Start>
std::optional<Awaited<Results...>> await_native(Start&& start,
                                                const std::function<void()>& abandon = {},
                                                boost::asio::io_context* drive = nullptr) {
  auto slot = std::make_shared<typename Deliver<Results...>::Slot>();
  bool delivered = wait_native(
      [&](Completion done) { start(Deliver<Results...>(slot, std::move(done))); }, abandon,
      drive);
  if (!delivered) return std::nullopt;
  if constexpr (sizeof...(Results) == 1) {
    return std::optional<Awaited<Results...>>(std::move(std::get<0>(**slot)));
  } else {
    return std::optional<Awaited<Results...>>(std::move(**slot));
  }
}

}  // namespace puff::python
