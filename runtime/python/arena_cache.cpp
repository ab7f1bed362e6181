#include "python/arena_cache.h"

#include <cstddef>
#include <mutex>
#include <vector>

#include "python/compat.h"

namespace puff::python {
namespace {

// Bounded: a burst of thousands of greenlets must not pin its peak memory for good.
constexpr std::size_t kMaxCachedBytes = 8 * 1024 * 1024;
constexpr std::size_t kMaxBlockBytes = 1024 * 1024;  // pymalloc arenas (1 MiB) and below

struct Cached {
  void* block;
  std::size_t size;
};

PyObjectArenaAllocator underlying{};
std::mutex mutex;  // arenas are taken with the GIL held; the lock is for safety, uncontended
std::vector<Cached>* cache = nullptr;
std::size_t cached_bytes = 0;

void* cached_alloc(void* context, std::size_t size) {
  {
    std::lock_guard lock(mutex);
    for (std::size_t i = cache->size(); i-- > 0;) {
      if ((*cache)[i].size == size) {
        void* block = (*cache)[i].block;
        (*cache)[i] = cache->back();
        cache->pop_back();
        cached_bytes -= size;
        return block;
      }
    }
  }
  return underlying.alloc(underlying.ctx, size);
}

void cached_free(void* context, void* block, std::size_t size) {
  if (block && size <= kMaxBlockBytes) {
    std::lock_guard lock(mutex);
    if (cached_bytes + size <= kMaxCachedBytes) {
      cache->push_back({block, size});
      cached_bytes += size;
      return;
    }
  }
  underlying.free(underlying.ctx, block, size);
}

}  // namespace

void install_arena_cache() {
  if (cache) return;
  cache = new std::vector<Cached>;  // leaked: arenas may be freed during finalization
  cache->reserve(64);
  PyObject_GetArenaAllocator(&underlying);
  PyObjectArenaAllocator wrapped{nullptr, cached_alloc, cached_free};
  PyObject_SetArenaAllocator(&wrapped);
}

}  // namespace puff::python
