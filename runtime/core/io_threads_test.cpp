#include "core/io_threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>

namespace puff::core {
namespace {

TEST(IoThreads, DefaultCountIsAtLeastOne) {
  IoThreads io(0);
  EXPECT_GE(io.size(), 1);
}

TEST(IoThreads, RunsPostedHandlersOnItsThreads) {
  IoThreads io(2);
  std::promise<std::thread::id> ran_on;
  boost::asio::post(io.context(), [&] { ran_on.set_value(std::this_thread::get_id()); });
  auto id = ran_on.get_future().get();
  EXPECT_NE(id, std::this_thread::get_id());
}

TEST(IoThreads, TimersFire) {
  IoThreads io(1);
  boost::asio::steady_timer timer(io.context(), std::chrono::milliseconds(20));
  std::promise<bool> fired;
  auto start = std::chrono::steady_clock::now();
  timer.async_wait([&](boost::system::error_code ec) { fired.set_value(!ec); });
  EXPECT_TRUE(fired.get_future().get());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
}

TEST(IoThreads, StopDropsPendingHandlersWithoutRunningThem) {
  std::atomic<int> ran{0};
  {
    IoThreads io(1);
    auto timer = std::make_shared<boost::asio::steady_timer>(io.context(), std::chrono::hours(1));
    timer->async_wait([&ran, timer](boost::system::error_code) { ran++; });
    io.stop();
  }
  EXPECT_EQ(ran.load(), 0);
}

TEST(IoThreads, SurvivesAThrowingHandler) {
  IoThreads io(1);
  boost::asio::post(io.context(), [] { throw std::runtime_error("boom"); });
  std::promise<void> after;
  boost::asio::post(io.context(), [&] { after.set_value(); });
  EXPECT_EQ(after.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

}  // namespace
}  // namespace puff::core
