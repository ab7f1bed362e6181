#include "http/accept_balance.h"

#include <sys/mman.h>

#include <new>

namespace puff::http {

// Counts in shared memory are only ever touched through lock-free atomics (address-free).
static_assert(std::atomic<int>::is_always_lock_free);

std::shared_ptr<AcceptBalance> AcceptBalance::create(int slots) {
  if (slots <= 0) return nullptr;
  std::size_t bytes = sizeof(std::atomic<int>) * static_cast<std::size_t>(slots);
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  auto* counts = static_cast<std::atomic<int>*>(memory);
  for (int i = 0; i < slots; ++i) new (&counts[i]) std::atomic<int>(-1);
  return std::shared_ptr<AcceptBalance>(new AcceptBalance(counts, slots));
}

AcceptBalance::~AcceptBalance() {
  ::munmap(counts_, sizeof(std::atomic<int>) * static_cast<std::size_t>(slots_));
}

void AcceptBalance::publish(int slot, int open_connections) {
  if (slot >= 0 && slot < slots_) counts_[slot].store(open_connections, std::memory_order_relaxed);
}

void AcceptBalance::leave(int slot) { publish(slot, -1); }

bool AcceptBalance::may_accept(int slot, int open_connections) const {
  for (int i = 0; i < slots_; ++i) {
    if (i == slot) continue;
    int other = counts_[i].load(std::memory_order_relaxed);
    if (other >= 0 && open_connections - other >= kSlack) return false;
  }
  return true;
}

}  // namespace puff::http
