// Exclusive use of one pooled connection (pg::Lease, redis::Dedicated): given back to its pool
// when released or destroyed, or closed instead by discard(). Movable, not copyable.
//
// Pool: give_back(std::shared_ptr<Connection>, bool discard) (the lease's friend; an exception
// from it is logged, never thrown: release() runs in destructors) and options().name.
// UsageError: thrown by connection() on an empty lease. Name: "pg::Lease", for messages.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "core/log.h"

namespace puff::core {

template <class Pool, class Connection, class UsageError, const char* Name>
class PoolLease {
 public:
  PoolLease() = default;
  PoolLease(std::shared_ptr<Pool> pool, std::shared_ptr<Connection> connection)
      : pool_(std::move(pool)), connection_(std::move(connection)) {}
  ~PoolLease() { release(); }
  PoolLease(PoolLease&& other) noexcept = default;
  PoolLease& operator=(PoolLease&& other) noexcept {
    if (this != &other) {
      release();
      pool_ = std::move(other.pool_);
      connection_ = std::move(other.connection_);
    }
    return *this;
  }
  PoolLease(const PoolLease&) = delete;
  PoolLease& operator=(const PoolLease&) = delete;

  explicit operator bool() const { return connection_ != nullptr; }
  Connection& connection() const {
    if (!connection_) {
      throw UsageError(std::string(Name) + " used after release (it holds no connection)");
    }
    return *connection_;
  }
  Connection* operator->() const { return &connection(); }
  // Gives the connection back now; the lease becomes empty.
  void release() { give_back(false); }
  // Closes the connection instead of returning it (the pool opens another when needed).
  void discard() { give_back(true); }

 private:
  void give_back(bool discard) {
    if (!connection_) return;
    auto pool = std::move(pool_);
    auto connection = std::move(connection_);
    try {
      pool->give_back(std::move(connection), discard);
    } catch (const std::exception& e) {
      log_error(Name, ": ", discard ? "discarding" : "returning", " a connection of pool '",
                pool->options().name, "' failed: ", e.what());
    }
  }

  std::shared_ptr<Pool> pool_;
  std::shared_ptr<Connection> connection_;
};

}  // namespace puff::core
