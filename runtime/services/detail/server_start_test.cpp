// The one line a failed server start is reported with, and the port a server gets.
#include "services/detail/server_start.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace puff::services::detail {
namespace {

TEST(RelevantOutputLineTest, RedisConfigErrorNamesTheSettingAndTheReason) {
  std::string output =
      "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at "
      "line 2\n>>> 'save \"a b\"'\nInvalid save parameters\n";
  EXPECT_EQ(relevant_output_line(output), "bad setting 'save \"a b\"': Invalid save parameters");
}

TEST(RelevantOutputLineTest, LastLineMentioningAnErrorElseTheLastLine) {
  EXPECT_EQ(relevant_output_line("starting\n  initdb: Error: directory exists  \ncleaning up\n"),
            "initdb: Error: directory exists");
  EXPECT_EQ(relevant_output_line("a\nfatal: one\nFATAL: two\nb\n"), "FATAL: two");
  EXPECT_EQ(relevant_output_line("first\nlast\n\n  \n"), "last");
  EXPECT_EQ(relevant_output_line(" \n"), "");
}

class FailureReasonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/puff-start-XXXXXX";
    dir_ = mkdtemp(pattern);
    log_ = dir_ + "/server.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, log_;
};

TEST_F(FailureReasonTest, AStartErrorComesFirst) {
  RunResult r{.exit_code = -1, .output = "FATAL: ignored", .error = "cannot run pg_ctl: x"};
  EXPECT_EQ(failure_reason(r, "", 0), "cannot run pg_ctl: x");
}

TEST_F(FailureReasonTest, TheLogWrittenSinceTheStartBeatsTheOutput) {
  std::ofstream(log_) << "2024 UTC [1] FATAL:  an old failure\n";
  auto since = std::filesystem::file_size(log_);
  std::ofstream(log_, std::ios::app) << "2024 UTC [2] LOG:  starting\n"
                                     << "2024 UTC [2] FATAL:  could not bind\n"
                                     << "2024 UTC [2] HINT:  Is another postmaster running?\n";
  RunResult r{.exit_code = 1, .output = "pg_ctl: could not start server"};
  EXPECT_EQ(failure_reason(r, log_, since),
            "FATAL: could not bind (hint: Is another postmaster running?)");
}

TEST_F(FailureReasonTest, OutputWhenTheLogSaysNothing) {
  RunResult r{.exit_code = 1, .output = "pg_ctl: could not start server\n"};
  EXPECT_EQ(failure_reason(r, log_, 0), "pg_ctl: could not start server");
}

TEST_F(FailureReasonTest, TimeoutsAndBareExitStatuses) {
  EXPECT_EQ(failure_reason({.exit_code = 137, .timed_out = true}, "", 0), "timed out");
  EXPECT_EQ(failure_reason({.exit_code = 137, .timed_out = true, .output = "waiting\n"}, "", 0),
            "timed out: waiting");
  EXPECT_EQ(failure_reason({.exit_code = 3}, "", 0), "exit status 3");
}

TEST(ChoosePortTest, KeepsTheRecordedPortWhenFree) {
  int port = pick_free_tcp_port();
  ASSERT_GT(port, 0);
  std::ostringstream out;
  EXPECT_EQ(choose_port("redis", port, out), port);
  EXPECT_EQ(out.str(), "");
}

TEST(ChoosePortTest, MovesOffATakenPortAndSaysSo) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int taken = ntohs(addr.sin_port);
  std::ostringstream out;
  int port = choose_port("postgres", taken, out);
  ::close(listener);
  EXPECT_NE(port, taken);
  EXPECT_GT(port, 0);
  EXPECT_EQ(out.str(), "postgres: port " + std::to_string(taken) +
                           " is taken by another program; using " + std::to_string(port) +
                           " instead\n");
}

TEST(ChoosePortTest, NoRecordedPortGetsAFreshOneQuietly) {
  std::ostringstream out;
  EXPECT_GT(choose_port("redis", 0, out), 0);
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace puff::services::detail
