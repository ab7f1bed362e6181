// The process's shared pools of one kind (PostgreSQL, Redis): one pool per distinct settings,
// created on first use, listed for statistics, closed together at shutdown. Thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace puff::core {

// Pool: has create(io, options), start(), stats() (with a `name`), close().
// Key: every setting of the options (a tuple), so a pool never serves settings it was not
// created with.
template <class Pool, class Key>
class SharedPools {
 public:
  template <class Io, class Options>
  std::shared_ptr<Pool> get(Io& io, const Options& options, const Key& key) {
    std::shared_ptr<Pool> pool;
    {
      std::lock_guard lock(mutex_);
      if (auto found = pools_.find(key); found != pools_.end()) return found->second;
      pool = Pool::create(io, options);  // throws for bad settings: nothing registered
      pools_.emplace(key, pool);
    }
    pool->start();  // outside the lock: it posts connects to `io`
    return pool;
  }

  // Every pool's statistics, by name.
  auto stats() {
    std::vector<std::shared_ptr<Pool>> all;
    {
      std::lock_guard lock(mutex_);
      for (auto& [key, pool] : pools_) all.push_back(pool);
    }
    std::vector<decltype(all.front()->stats())> out;
    out.reserve(all.size());
    for (auto& pool : all) out.push_back(pool->stats());
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }

  // Closes and forgets every pool for which `matches(pool)` is true: the next get() with its
  // settings creates a new one. Returns how many.
  // `matches` runs under the registry's lock: it must only look at the pool.
  template <class Predicate>
  std::size_t close_if(Predicate matches) {
    std::vector<std::shared_ptr<Pool>> closing;
    {
      std::lock_guard lock(mutex_);
      for (auto it = pools_.begin(); it != pools_.end();) {
        if (!matches(*it->second)) {
          ++it;
          continue;
        }
        closing.push_back(it->second);
        it = pools_.erase(it);
      }
    }
    for (auto& pool : closing) pool->close();
    return closing.size();
  }

  void close_all() {
    std::map<Key, std::shared_ptr<Pool>> closing;
    {
      std::lock_guard lock(mutex_);
      closing.swap(pools_);
    }
    for (auto& [key, pool] : closing) pool->close();
  }

  // Forgets every pool without closing or destroying it (a forked child: see redis's
  // abandon_shared_pools_after_fork).
  void abandon_all() {
    auto* leaked = new std::map<Key, std::shared_ptr<Pool>>;
    std::lock_guard lock(mutex_);
    leaked->swap(pools_);
  }

 private:
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<Pool>> pools_;
};

}  // namespace puff::core
