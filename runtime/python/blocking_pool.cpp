#include "python/blocking_pool.h"

#include <pthread.h>

#include <csignal>

#include "python/hub.h"
#include "python/kit/await_native.h"

namespace puff::python {
namespace {
BlockingPool* g_instance = nullptr;
}

BlockingPool::BlockingPool(int size) : size_(size < 1 ? 1 : size) { g_instance = this; }

BlockingPool::~BlockingPool() {
  if (g_instance == this) g_instance = nullptr;
}

BlockingPool* BlockingPool::instance() { return g_instance; }

int BlockingPool::threads_started() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(threads_.size());
}

void BlockingPool::submit(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(job));
  if (idle_ == 0 && static_cast<int>(threads_.size()) < size_) {
    // Signals belong to the hub (the main thread), not to pool threads.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    threads_.emplace_back([this] { worker(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  } else {
    work_available_.notify_one();
  }
}

void BlockingPool::worker() {
  pthread_setname_np(pthread_self(), "puff-blocking");
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ++idle_;
    work_available_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    {
      GilAcquire gil;
      job();
      job = nullptr;  // destroy its Python references while holding the GIL
    }
    lock.lock();
  }
}

void BlockingPool::stop() {
  std::vector<std::thread> threads;
  std::deque<std::function<void()>> abandoned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
    // Jobs not started yet belong to greenlets that were unwound already: drop them.
    abandoned.swap(queue_);
    work_available_.notify_all();
  }
  {
    GilRelease released;  // running jobs need the GIL to finish
    for (auto& t : threads) t.join();
  }
  abandoned.clear();  // GIL held again
}

namespace {

struct BlockingCall {
  PyRef function, args, kwargs;
  PyRef result;
  SavedException error;
};

PyObject* call_now(PyObject* function, PyObject* args, PyObject* kwargs) {
  return PyObject_Call(function, args, kwargs);
}

}  // namespace

PyObject* run_blocking(PyObject* function, PyObject* args, PyObject* kwargs) {
  Hub* hub = Hub::instance();
  BlockingPool* pool = BlockingPool::instance();
  if (!hub || !hub->in_task() || !pool) return call_now(function, args, kwargs);

  auto call = std::make_shared<BlockingCall>();
  call->function = PyRef::borrow(function);
  call->args = PyRef::borrow(args);
  call->kwargs = PyRef::borrow(kwargs);
  auto completed = await_native<>([&](auto deliver) {
    pool->submit([call, deliver] {
      call->result = PyRef::steal(call_now(call->function.get(), call->args.get(),
                                           call->kwargs.get()));
      if (!call->result) call->error = SavedException::fetch();
      deliver();
    });
  });
  if (!completed) return nullptr;  // the caller was killed; the call finishes on its own
  if (!call->result) {
    call->error.restore();
    return nullptr;
  }
  return call->result.release();
}

}  // namespace puff::python
