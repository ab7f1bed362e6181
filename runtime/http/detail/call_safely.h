// Callbacks handed to runtime/http must not throw; this calls one and keeps an escaping
// exception from unwinding through Asio's handlers (it is logged instead).
#pragma once

#include <exception>
#include <utility>

#include "core/log.h"

namespace puff::http::detail {

template <typename Callback, typename... Args>
void call_safely(Callback& callback, Args&&... args) {
  if (!callback) return;
  try {
    callback(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    core::log_error("http: a callback threw: ", e.what());
  } catch (...) {
    core::log_error("http: a callback threw");
  }
}

}  // namespace puff::http::detail
