// run_command against real child processes (/bin/sh): output, exit codes, signals, timeouts,
// start failures, environment and working directory.
#include "services/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace puff::services {
namespace {

RunResult shell(const std::string& script, RunOptions options = {}) {
  return run_command({"sh", "-c", script}, options);
}

pid_t first_number(const std::string& text) { return static_cast<pid_t>(std::atol(text.c_str())); }

TEST(RunCommandTest, CapturesStdoutAndStderrInterleaved) {
  RunResult r = shell("echo one; echo two >&2; echo three");
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.output, "one\ntwo\nthree\n");
}

TEST(RunCommandTest, ExitCodeIsTheChildsStatus) {
  RunResult r = shell("exit 3");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.error, "");
}

TEST(RunCommandTest, KilledBySignalIs128PlusSignal) {
  RunResult r = shell("kill -TERM $$");
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
  EXPECT_FALSE(r.timed_out);
}

TEST(RunCommandTest, SignalsAreResetInTheChild) {
  // An ignored SIGTERM in the parent must not be inherited by the servers it starts.
  struct sigaction ignore {}, previous{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGTERM, &ignore, &previous);
  RunResult r = shell("kill -TERM $$; exit 0");
  sigaction(SIGTERM, &previous, nullptr);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM);
}

TEST(RunCommandTest, TimeoutKillsTheWholeProcessGroup) {
  RunResult r = shell("sleep 30 & echo $!; sleep 30", {.timeout_s = 0.3});
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  pid_t background = first_number(r.output);
  ASSERT_GT(background, 0) << r.output;
  EXPECT_TRUE(wait_for_exit(background, 10)) << "the background sleep survived";
}

TEST(RunCommandTest, ADaemonHoldingThePipeDoesNotHoldTheCaller) {
  // The daemon keeps stdout open; the call returns when the child itself exits.
  RunResult r = shell("sleep 30 & echo $!", {.timeout_s = 20});
  pid_t daemon = first_number(r.output);
  ASSERT_GT(daemon, 0) << r.output;
  kill(daemon, SIGKILL);
  EXPECT_TRUE(r.ok()) << r.error << " timed_out=" << r.timed_out;
}

TEST(RunCommandTest, OutputIsCappedAtOneMebibyte) {
  RunResult r = shell("head -c 3000000 /dev/zero");
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.output.size(), std::size_t{1} << 20);
}

TEST(RunCommandTest, StdinIsDevNull) {
  RunResult r = shell("cat; echo done");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.output, "done\n");
}

TEST(RunCommandTest, CommandNotOnPath) {
  RunResult r = run_command({"puff-no-such-program-here"});
  EXPECT_EQ(r.error, "puff-no-such-program-here: command not found on PATH");
  EXPECT_EQ(r.exit_code, -1);
}

TEST(RunCommandTest, EmptyArgvIsAnError) {
  EXPECT_EQ(run_command({}).error, "no command");
}

TEST(RunCommandTest, ExecFailureSaysWhichProgram) {
  RunResult r = run_command({"/dev/null"});
  EXPECT_EQ(r.error, "cannot run /dev/null: Permission denied");
  EXPECT_FALSE(r.ok());
}

TEST(RunCommandTest, MissingWorkingDirectorySaysWhich) {
  RunResult r = shell("pwd", {.cwd = "/nonexistent-puff-dir"});
  EXPECT_EQ(r.error, "cannot change directory to /nonexistent-puff-dir: No such file or directory");
}

TEST(RunCommandTest, RunsInTheWorkingDirectory) {
  std::string dir = std::filesystem::canonical(std::filesystem::temp_directory_path()).string();
  RunResult r = shell("pwd", {.cwd = dir});
  EXPECT_EQ(r.output, dir + "\n");
}

TEST(RunCommandTest, ExtraEnvironmentAddsOverridesAndRemoves) {
  setenv("PUFF_TEST_KEEP", "kept", 1);
  setenv("PUFF_TEST_DROP", "dropped", 1);
  setenv("PUFF_TEST_CHANGE", "old", 1);
  RunResult r = shell("echo \"$PUFF_TEST_KEEP,${PUFF_TEST_DROP-unset},$PUFF_TEST_CHANGE,$PUFF_TEST_NEW\"",
                      {.extra_env = {"PUFF_TEST_DROP", "PUFF_TEST_CHANGE=new", "PUFF_TEST_NEW=1"}});
  unsetenv("PUFF_TEST_KEEP");
  unsetenv("PUFF_TEST_DROP");
  unsetenv("PUFF_TEST_CHANGE");
  EXPECT_EQ(r.output, "kept,unset,new,1\n");
}

TEST(RunCommandTest, RunsAsAnotherAccountWithItsHomeAndName) {
  if (geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  std::optional<Account> account = lookup_account("nobody");
  if (!account) GTEST_SKIP() << "no `nobody` account";
  RunResult r = shell("echo \"$(id -u) $HOME $USER $LOGNAME\"", {.as_user = account, .cwd = "/"});
  EXPECT_EQ(r.output, std::to_string(account->uid) + " " + account->home + " nobody nobody\n");
}

TEST(RunCommandTest, ChildRunsInItsOwnSession) {
  // Field 6 of /proc/PID/stat is the session id.
  RunResult r = shell("cut -d' ' -f6 /proc/$$/stat");
  ASSERT_TRUE(r.ok()) << r.output << r.error;
  EXPECT_GT(first_number(r.output), 0) << r.output;
  EXPECT_NE(first_number(r.output), getsid(0));
}

TEST(RunCommandTest, NoFdsLeakIntoTheChild) {
  // fds 0-2 only (the shell's own fd for the listing aside).
  RunResult r = shell("ls /proc/self/fd");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.output, "0\n1\n2\n3\n");
}

}  // namespace
}  // namespace puff::services
