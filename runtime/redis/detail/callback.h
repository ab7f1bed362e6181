// Calls a user callback: an exception escaping it is logged and swallowed (it must not unwind
// through Asio's handlers). Private to the redis component.
#pragma once

#include <exception>

#include "core/log.h"

namespace puff::redis::detail {

template <class Call>
void run_callback(const Call& call) {
  try {
    call();
  } catch (const std::exception& e) {
    core::log_error("redis: a callback threw (ignored): ", e.what());
  } catch (...) {
    core::log_error("redis: a callback threw a non-standard exception (ignored)");
  }
}

}  // namespace puff::redis::detail
