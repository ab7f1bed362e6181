#include "core/server_outage.h"

#include <gtest/gtest.h>

#include "core/log.h"
#include "core/test_support.h"

namespace puff::core {
namespace {

using testing::CapturedStderr;

const char kSubject[] = "Redis pool 'x' at h:1";

TEST(ServerOutage, AnOutageIsOneLossLineAndOneRegainLine) {
  CapturedStderr log;
  ServerOutage outage(kSubject, "commands");
  outage.connected();
  outage.request_failed();  // not during an outage: not counted
  EXPECT_EQ(log.text(), "");

  outage.connect_failed("Redis pool 'x' at h:1: connection refused");
  for (int i = 0; i < 5; ++i) {
    outage.connect_failed("Redis pool 'x' at h:1: connecting timed out");
    outage.request_failed();
  }
  EXPECT_TRUE(outage.down());
  outage.connected();
  outage.connected();
  EXPECT_FALSE(outage.down());
  EXPECT_EQ(log.text(),
            "puff: warning: Redis pool 'x' at h:1 lost its server: connection refused "
            "(reconnecting)\n"
            "puff: info: Redis pool 'x' at h:1 has its server back after 0.0 s; commands "
            "failed meanwhile: 5\n");

  outage.connect_failed("a second outage");
  EXPECT_EQ(log.lines_with("lost its server: a second outage (reconnecting)"), 1);
}

TEST(ServerOutage, APoolThatNeverConnectedCannotConnectThenReachesItsServer) {
  CapturedStderr log;
  ServerOutage outage("PostgreSQL pool 'db'", "acquires");
  outage.connect_failed("connection to server at \"127.0.0.1\", port 1 failed: refused");
  outage.connect_failed("again");
  outage.request_failed();
  outage.connected();
  EXPECT_EQ(log.text(),
            "puff: warning: PostgreSQL pool 'db' cannot connect: connection to server at "
            "\"127.0.0.1\", port 1 failed: refused (retrying)\n"
            "puff: info: PostgreSQL pool 'db' reached its server after 0.0 s; acquires failed "
            "meanwhile: 1\n");
}

TEST(ServerOutage, BelowTheLogLevelNothingIsWritten) {
  CapturedStderr log;
  set_log_level(LogLevel::error);
  ServerOutage outage(kSubject, "commands");
  outage.connect_failed("refused");
  outage.connected();
  set_log_level(LogLevel::info);
  EXPECT_EQ(log.text(), "");
  EXPECT_FALSE(outage.down());
}

}  // namespace
}  // namespace puff::core
