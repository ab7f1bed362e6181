#include "http/accept_balance.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace puff::http {
namespace {

TEST(AcceptBalance, TheLeastLoadedAlwaysAcceptsTheOthersWithinTheSlack) {
  auto balance = AcceptBalance::create(3);
  ASSERT_TRUE(balance);
  balance->publish(0, 10);
  balance->publish(1, 11);
  EXPECT_TRUE(balance->may_accept(0, 10));   // the least loaded
  EXPECT_TRUE(balance->may_accept(1, 11));   // one ahead
  balance->publish(1, 12);
  EXPECT_FALSE(balance->may_accept(1, 12));  // kSlack ahead: leaves it to slot 0
  EXPECT_TRUE(balance->may_accept(2, 0));    // a new worker, before it published
}

TEST(AcceptBalance, SlotsThatLeftOrWereNeverTakenCountForNothing) {
  auto balance = AcceptBalance::create(4);
  balance->publish(0, 100);
  EXPECT_TRUE(balance->may_accept(0, 100));  // alone
  balance->publish(1, 0);
  EXPECT_FALSE(balance->may_accept(0, 100));
  balance->leave(1);  // stopped accepting (draining, or dead and released)
  EXPECT_TRUE(balance->may_accept(0, 100));
  balance->publish(7, 0);  // out of range: ignored
  EXPECT_TRUE(balance->may_accept(0, 100));
}

TEST(AcceptBalance, CountsAreSharedWithForkedChildren) {
  auto balance = AcceptBalance::create(2);
  balance->publish(0, 5);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    balance->publish(1, 40);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(balance->may_accept(0, 5));    // the child's 40 is seen here
  EXPECT_FALSE(balance->may_accept(1, 40));
}

TEST(AcceptBalance, NoSlotsNoBalance) { EXPECT_FALSE(AcceptBalance::create(0)); }

}  // namespace
}  // namespace puff::http
