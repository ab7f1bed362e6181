// COPY FROM STDIN / TO STDOUT through pg::Connection::copy() against a real server.
#include <gtest/gtest.h>

#include <thread>

#include "core/io_threads.h"
#include "pg/connection.h"
#include "pg/pgtest_support.h"

namespace puff::pg {
namespace {

using namespace puff::pg::testing;

// `rows` lines "i\t<i repeated to width>\n": a text COPY of (id int, body text).
std::string numbered_rows(int rows, std::size_t width) {
  std::string out;
  for (int i = 1; i <= rows; ++i) {
    std::string n = std::to_string(i);
    std::string body;
    while (body.size() < width) body += n;
    body.resize(width);
    out += n + "\t" + body + "\n";
  }
  return out;
}

// `text` cut into pieces of `size` bytes (rows split anywhere: the server must not care).
std::vector<std::string> pieces(const std::string& text, std::size_t size) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < text.size(); at += size) out.push_back(text.substr(at, size));
  return out;
}

std::shared_ptr<Connection> with_table(core::IoThreads& io) {
  auto c = connected(io.context());
  auto made = query_sync(*c, "CREATE TEMP TABLE copied (id int PRIMARY KEY, body text)");
  EXPECT_FALSE(made.error) << made.error->message;
  return c;
}

TEST(PgCopy, RoundTripsRowsWithNullsAndUnicodeInAnySplit) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  const std::string rows = "1\tplain\n2\t\\N\n3\tdéjà vu ✓\n4\ttab\\there\n";
  auto in = copy_sync(*c, "COPY copied FROM STDIN", pieces(rows, 5));
  ASSERT_FALSE(in.outcome.error) << in.outcome.error->message;
  EXPECT_EQ(in.copy_in_turns, static_cast<int>(pieces(rows, 5).size()) + 1);
  ASSERT_EQ(in.outcome.results.size(), 1u);
  EXPECT_EQ(in.outcome.results[0].command_status(), "COPY 4");
  EXPECT_EQ(in.outcome.results[0].affected_rows(), 4);

  auto check =
      query_sync(*c, "SELECT body IS NULL, body FROM copied WHERE id IN (2, 3) ORDER BY id");
  ASSERT_FALSE(check.error);
  EXPECT_EQ(check.results[0].value(0, 0), "t");
  EXPECT_EQ(check.results[0].value(1, 1), "déjà vu ✓");

  auto out = copy_sync(*c, "COPY (SELECT * FROM copied ORDER BY id) TO STDOUT");
  ASSERT_FALSE(out.outcome.error) << out.outcome.error->message;
  EXPECT_EQ(out.output, rows);
  EXPECT_EQ(out.batches, 1);
  ASSERT_EQ(out.outcome.results.size(), 1u);
  EXPECT_EQ(out.outcome.results[0].affected_rows(), 4);
  EXPECT_EQ(c->transaction_status(), TransactionStatus::idle);
  EXPECT_FALSE(c->is_busy());
}

TEST(PgCopy, SeveralMegabytesGoInPiecesAndComeBackInBoundedBatches) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  const std::string rows = numbered_rows(6000, 1000);  // ~6 MB
  ASSERT_GT(rows.size(), 6'000'000u);
  // 1 MB chunks: each goes to libpq in pieces, waiting for the socket in between.
  auto in = copy_sync(*c, "COPY copied FROM STDIN", pieces(rows, 1 << 20));
  ASSERT_FALSE(in.outcome.error) << in.outcome.error->message;
  EXPECT_EQ(in.outcome.results[0].affected_rows(), 6000);

  auto out = copy_sync(*c, "COPY copied TO STDOUT");
  ASSERT_FALSE(out.outcome.error) << out.outcome.error->message;
  EXPECT_EQ(out.output.size(), rows.size());
  EXPECT_TRUE(out.output == rows);  // not EXPECT_EQ: a 6 MB diff helps nobody
  EXPECT_GE(out.batches, static_cast<int>(rows.size() / Connection::kCopyBatchBytes));
  EXPECT_LE(out.largest, Connection::kCopyBatchBytes + 1100);  // one row past the limit at most
  EXPECT_EQ(out.outcome.results[0].affected_rows(), 6000);
}

TEST(PgCopy, BadRowFailsWithTheServersErrorAndLeavesTheConnectionUsable) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  auto run = copy_sync(*c, "COPY copied FROM STDIN",
                       {"1\tfine\n", "2\tfine too\nnot a number\tbad\n", "4\tlater\n"});
  ASSERT_TRUE(run.outcome.error);
  EXPECT_EQ(run.outcome.error->kind, Error::Kind::query_failed);
  EXPECT_EQ(run.outcome.error->sqlstate, "22P02");
  EXPECT_NE(run.outcome.error->message.find("not a number"), std::string::npos)
      << run.outcome.error->message;
  ASSERT_TRUE(run.outcome.error->server_result);
  EXPECT_EQ(c->transaction_status(), TransactionStatus::idle);
  auto count = query_sync(*c, "SELECT count(*) FROM copied");
  ASSERT_FALSE(count.error);
  EXPECT_EQ(count.results[0].value(0, 0), "0");  // the COPY is all or nothing
}

TEST(PgCopy, AbortedCopyInFailsWith57014AndTheReason) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  ASSERT_FALSE(query_sync(*c, "BEGIN").error);
  auto run = copy_sync(*c, "COPY copied FROM STDIN", {"1\tsent\n"}, "the file failed");
  ASSERT_TRUE(run.outcome.error);
  EXPECT_EQ(run.outcome.error->sqlstate, "57014");
  EXPECT_NE(run.outcome.error->message.find("the file failed"), std::string::npos)
      << run.outcome.error->message;
  EXPECT_EQ(c->transaction_status(), TransactionStatus::in_error);
  ASSERT_FALSE(query_sync(*c, "ROLLBACK").error);
  auto count = query_sync(*c, "SELECT count(*) FROM copied");
  ASSERT_FALSE(count.error);
  EXPECT_EQ(count.results[0].value(0, 0), "0");
}

TEST(PgCopy, AbortedCopyOutDropsTheRestAndTheNextQueryWorks) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  CopyStep step = step_sync([&](auto cb) {
    c->copy("COPY (SELECT i, repeat('z', 500) FROM generate_series(1, 20000) i) TO STDOUT", cb);
  });
  ASSERT_EQ(step.kind, CopyStep::Kind::copy_out);
  EXPECT_FALSE(step.data.empty());
  EXPECT_EQ(step.data.rfind("1\t", 0), 0u);
  step = step_sync([&](auto cb) { c->copy_abort("not wanted", cb); });
  ASSERT_EQ(step.kind, CopyStep::Kind::done);
  EXPECT_FALSE(step.outcome.error);  // COPY TO STDOUT ran to its end on the server
  ASSERT_EQ(step.outcome.results.size(), 1u);
  EXPECT_EQ(step.outcome.results[0].affected_rows(), 20000);
  auto after = query_sync(*c, "SELECT 5");
  ASSERT_FALSE(after.error);
  EXPECT_EQ(after.results[0].value(0, 0), "5");
}

TEST(PgCopy, MultiStatementTextPausesAtEachCopy) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  auto run = copy_sync(*c,
                       "SELECT 1; COPY copied FROM STDIN; COPY copied TO STDOUT; SELECT 2",
                       {"7\tseven\n"});
  ASSERT_FALSE(run.outcome.error) << run.outcome.error->message;
  EXPECT_EQ(run.output, "7\tseven\n");
  ASSERT_EQ(run.outcome.results.size(), 4u);
  EXPECT_EQ(run.outcome.results[0].value(0, 0), "1");
  EXPECT_EQ(run.outcome.results[1].command_status(), "COPY 1");
  EXPECT_EQ(run.outcome.results[2].command_status(), "COPY 1");
  EXPECT_EQ(run.outcome.results[3].value(0, 0), "2");

  // copy_abort ends every remaining COPY of the text: the first fails, the rest is skipped.
  auto aborted = copy_sync(*c, "COPY copied FROM STDIN; SELECT 3", {}, "stop");
  ASSERT_TRUE(aborted.outcome.error);
  EXPECT_EQ(aborted.outcome.error->sqlstate, "57014");
  EXPECT_TRUE(aborted.outcome.results.empty());
}

TEST(PgCopy, StatementsWithoutCopyRunAsWithExecute) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  auto plain = copy_sync(*c, "SELECT 42");
  ASSERT_FALSE(plain.outcome.error);
  EXPECT_EQ(plain.outcome.results[0].value(0, 0), "42");
  EXPECT_EQ(plain.copy_in_turns + plain.batches, 0);

  auto missing = copy_sync(*c, "COPY no_such_table FROM STDIN");
  ASSERT_TRUE(missing.outcome.error);
  EXPECT_EQ(missing.outcome.error->sqlstate, "42P01");
  EXPECT_EQ(missing.copy_in_turns, 0);
}

TEST(PgCopy, ExecuteRefusesCopyAndEndsItCleanly) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  auto in = query_sync(*c, "COPY copied FROM STDIN");
  ASSERT_TRUE(in.error);
  EXPECT_EQ(in.error->kind, Error::Kind::copy_refused);
  EXPECT_NE(in.error->message.find("COPY FROM STDIN"), std::string::npos) << in.error->message;

  auto out = query_sync(*c,
                        "COPY (SELECT i FROM generate_series(1, 100000) i) TO STDOUT; SELECT 2");
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, Error::Kind::copy_refused);
  EXPECT_NE(out.error->message.find("COPY TO STDOUT"), std::string::npos) << out.error->message;
  ASSERT_EQ(out.results.size(), 2u);  // the COPY's own result, then SELECT 2 ran
  EXPECT_EQ(out.results[1].value(0, 0), "2");

  auto after = query_sync(*c, "SELECT 3");
  ASSERT_FALSE(after.error);
  EXPECT_EQ(after.results[0].value(0, 0), "3");
  EXPECT_EQ(c->transaction_status(), TransactionStatus::idle);
}

TEST(PgCopy, OnlyTheStepTheCopyAsksForIsAllowed) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  EXPECT_THROW(c->copy_out_next([](CopyStep) {}), UsageError);  // no copy() at all
  EXPECT_THROW(c->copy_abort("x", [](CopyStep) {}), UsageError);
  CopyStep step = step_sync([&](auto cb) { c->copy("COPY copied FROM STDIN", cb); });
  ASSERT_EQ(step.kind, CopyStep::Kind::copy_in);
  EXPECT_TRUE(c->is_busy());
  EXPECT_THROW(c->copy_out_next([](CopyStep) {}), UsageError);
  EXPECT_THROW(c->execute("SELECT 1", [](QueryOutcome) {}), UsageError);
  EXPECT_THROW(c->copy("SELECT 1", [](CopyStep) {}), UsageError);
  step = step_sync([&](auto cb) { c->copy_in_end(cb); });
  ASSERT_EQ(step.kind, CopyStep::Kind::done);
  EXPECT_FALSE(step.outcome.error);
  EXPECT_THROW(c->copy_in_end([](CopyStep) {}), UsageError);  // the copy is over
  EXPECT_FALSE(c->is_busy());
}

TEST(PgCopy, CloseWhileTheCallerHasTheTurnAnswersItsNextCall) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = with_table(io);
  CopyStep step = step_sync([&](auto cb) { c->copy("COPY copied FROM STDIN", cb); });
  ASSERT_EQ(step.kind, CopyStep::Kind::copy_in);
  c->close();
  std::this_thread::sleep_for(50ms);
  step = step_sync([&](auto cb) { c->copy_in_put("1\tlate\n", cb); });
  ASSERT_EQ(step.kind, CopyStep::Kind::done);
  ASSERT_TRUE(step.outcome.error);
  EXPECT_EQ(step.outcome.error->kind, Error::Kind::closed);
  EXPECT_FALSE(c->is_busy());
  EXPECT_FALSE(c->is_open());
}

TEST(PgCopy, CloseDuringAStepCompletesItWithClosed) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  // pg_sleep before the first row: the step waits on the server when close() comes.
  auto done = std::make_shared<std::promise<CopyStep>>();
  auto f = done->get_future();
  c->copy("COPY (SELECT pg_sleep(5)) TO STDOUT",
          [done](CopyStep s) { done->set_value(std::move(s)); });
  std::this_thread::sleep_for(100ms);
  c->close();
  auto step = wait_for(f, 2s);
  ASSERT_TRUE(step);
  ASSERT_EQ(step->kind, CopyStep::Kind::done);
  ASSERT_TRUE(step->outcome.error);
  EXPECT_EQ(step->outcome.error->kind, Error::Kind::closed);
}

TEST(PgCopy, TerminatedBackendMidCopyIsConnectionLost) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto victim = with_table(io);
  auto admin = connected(io.context());
  CopyStep step = step_sync([&](auto cb) { victim->copy("COPY copied FROM STDIN", cb); });
  ASSERT_EQ(step.kind, CopyStep::Kind::copy_in);
  ASSERT_FALSE(query_sync(*admin, "SELECT pg_terminate_backend($1)",
                          std::vector<std::optional<std::string>>{
                              std::to_string(victim->backend_pid())})
                   .error);
  std::this_thread::sleep_for(100ms);
  // Sending may still succeed (the kernel takes it); the end of the data cannot.
  const std::string rows = numbered_rows(2000, 100);
  while (step.kind == CopyStep::Kind::copy_in) {
    step = step_sync([&](auto cb) { victim->copy_in_put(rows, cb); });
    if (step.kind == CopyStep::Kind::copy_in) {
      step = step_sync([&](auto cb) { victim->copy_in_end(cb); });
    }
  }
  ASSERT_TRUE(step.outcome.error);
  EXPECT_EQ(step.outcome.error->kind, Error::Kind::connection_lost)
      << step.outcome.error->message;
  EXPECT_FALSE(victim->is_open());
  EXPECT_FALSE(victim->is_busy());
}

}  // namespace
}  // namespace puff::pg
