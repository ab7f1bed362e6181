#include "pg/connection.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

#include "core/io_threads.h"
#include "pg/pgtest_support.h"

namespace puff::pg {
namespace {

using namespace puff::pg::testing;
using Clock = std::chrono::steady_clock;

TEST(PgConnection, ConnectsAndReadsSeveralTypesAsText) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  ASSERT_TRUE(c->is_open());
  EXPECT_GT(c->backend_pid(), 0);
  EXPECT_GE(c->server_version(), 100000);
  EXPECT_EQ(c->parameter_status("server_encoding"), "UTF8");
  EXPECT_EQ(c->transaction_status(), TransactionStatus::idle);

  auto out = query_sync(*c,
                        "SELECT 42::int4 AS i, 'héllo'::text AS t, NULL::int AS n, 1.50::numeric(5,2)"
                        " AS d, true AS b, '2024-01-02'::date AS day, ARRAY[1,2] AS a");
  ASSERT_FALSE(out.error) << out.error->message;
  ASSERT_EQ(out.results.size(), 1u);
  const Result& r = out.results[0];
  EXPECT_EQ(r.status(), PGRES_TUPLES_OK);
  ASSERT_EQ(r.rows(), 1);
  ASSERT_EQ(r.cols(), 7);
  EXPECT_EQ(r.field_name(0), "i");
  EXPECT_EQ(r.field_type(0), 23u);  // int4
  EXPECT_EQ(r.value(0, 0), "42");
  EXPECT_EQ(r.field_type(1), 25u);  // text
  EXPECT_EQ(r.value(0, 1), "héllo");
  EXPECT_EQ(r.length(0, 1), 6);
  EXPECT_TRUE(r.is_null(0, 2));
  EXPECT_FALSE(r.is_null(0, 0));
  EXPECT_EQ(r.value(0, 3), "1.50");
  EXPECT_EQ(r.field_modifier(3), ((5 << 16) | 2) + 4);  // numeric(5,2)
  EXPECT_EQ(r.value(0, 4), "t");
  EXPECT_EQ(r.value(0, 5), "2024-01-02");
  EXPECT_EQ(r.value(0, 6), "{1,2}");
  EXPECT_EQ(r.field_number("day"), 5);
  EXPECT_EQ(r.command_status(), "SELECT 1");
  EXPECT_EQ(r.affected_rows(), 1);
  c->close();
}

TEST(PgConnection, MultiStatementTextReturnsEveryResult) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  auto out = query_sync(*c,
                        "SELECT 1; SELECT 2, 3; CREATE TEMP TABLE multi(x int); "
                        "INSERT INTO multi VALUES (1), (2)");
  ASSERT_FALSE(out.error) << out.error->message;
  ASSERT_EQ(out.results.size(), 4u);
  EXPECT_EQ(out.results[0].value(0, 0), "1");
  EXPECT_EQ(out.results[1].cols(), 2);
  EXPECT_EQ(out.results[1].value(0, 1), "3");
  EXPECT_EQ(out.results[2].status(), PGRES_COMMAND_OK);
  EXPECT_EQ(out.results[3].command_status(), "INSERT 0 2");
  EXPECT_EQ(out.results[3].affected_rows(), 2);

  // An empty query is a valid, empty result (the pool's health check relies on it).
  auto empty = query_sync(*c, "");
  ASSERT_FALSE(empty.error);
  ASSERT_EQ(empty.results.size(), 1u);
  EXPECT_EQ(empty.results[0].status(), PGRES_EMPTY_QUERY);
  EXPECT_TRUE(empty.results[0].ok());
}

TEST(PgConnection, SendsTextParameters) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  auto out = query_sync(*c, "SELECT $1::int + 1, $2::text IS NULL, $3::text",
                        std::vector<std::optional<std::string>>{"41", std::nullopt, "it's"});
  ASSERT_FALSE(out.error) << out.error->message;
  ASSERT_EQ(out.results.size(), 1u);
  EXPECT_EQ(out.results[0].value(0, 0), "42");
  EXPECT_EQ(out.results[0].value(0, 1), "t");
  EXPECT_EQ(out.results[0].value(0, 2), "it's");
}

TEST(PgConnection, LargeResultsAndParametersCrossManySocketReadsAndWrites) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  // ~8 MB back: many partial reads (the level check after each wait must not lose data).
  auto big = query_sync(*c, "SELECT i, repeat('x', 1000) FROM generate_series(1, 8000) i");
  ASSERT_FALSE(big.error) << big.error->message;
  ASSERT_EQ(big.results[0].rows(), 8000);
  EXPECT_EQ(big.results[0].value(7999, 0), "8000");
  EXPECT_EQ(big.results[0].length(7999, 1), 1000);
  // ~4 MB out: PQflush returns 1 and the write side waits.
  std::string payload(4 * 1024 * 1024, 'y');
  auto echoed = query_sync(*c, "SELECT length($1::text)",
                           std::vector<std::optional<std::string>>{payload});
  ASSERT_FALSE(echoed.error) << echoed.error->message;
  EXPECT_EQ(echoed.results[0].value(0, 0), std::to_string(payload.size()));
}

TEST(PgConnection, SqlErrorsCarrySqlstateAndLeaveTheConnectionUsable) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());

  auto missing = query_sync(*c, "SELECT * FROM no_such_table");
  ASSERT_TRUE(missing.error);
  EXPECT_EQ(missing.error->kind, Error::Kind::query_failed);
  EXPECT_EQ(missing.error->sqlstate, "42P01");
  EXPECT_NE(missing.error->message.find("no_such_table"), std::string::npos);
  EXPECT_EQ(missing.error->message.find('\n'), std::string::npos);

  auto syntax = query_sync(*c, "SELEC 1");
  ASSERT_TRUE(syntax.error);
  EXPECT_EQ(syntax.error->sqlstate, "42601");

  // The results before the failing statement are kept; the rest of the string is not run.
  auto partial = query_sync(*c, "SELECT 1; SELECT 1/0; SELECT 3");
  ASSERT_TRUE(partial.error);
  EXPECT_EQ(partial.error->sqlstate, "22012");
  ASSERT_EQ(partial.results.size(), 1u);

  auto hinted = query_sync(*c, "SELECT no_such_function_xyz(1)");
  ASSERT_TRUE(hinted.error);
  EXPECT_EQ(hinted.error->sqlstate, "42883");
  EXPECT_FALSE(hinted.error->hint.empty());

  auto fine = query_sync(*c, "SELECT 7");
  ASSERT_FALSE(fine.error);
  EXPECT_EQ(fine.results[0].value(0, 0), "7");
  EXPECT_EQ(c->transaction_status(), TransactionStatus::idle);
}

TEST(PgConnection, TracksTransactionStatus) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  ASSERT_FALSE(query_sync(*c, "BEGIN").error);
  EXPECT_EQ(c->transaction_status(), TransactionStatus::in_transaction);
  EXPECT_TRUE(query_sync(*c, "SELECT 1/0").error);
  EXPECT_EQ(c->transaction_status(), TransactionStatus::in_error);
  ASSERT_FALSE(query_sync(*c, "ROLLBACK").error);
  EXPECT_EQ(c->transaction_status(), TransactionStatus::idle);
}

TEST(PgConnection, UnknownDatabaseFailsWithOneLine) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  std::string url = test_url();
  url = url.substr(0, url.rfind('/')) + "/puff_no_such_db";
  auto c = Connection::create(io.context());
  auto error = connect_sync(c, ConnectOptions{url, 5.0, 0.0, ""});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::connect_failed);
  EXPECT_NE(error->message.find("puff_no_such_db"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("does not exist"), std::string::npos) << error->message;
  EXPECT_EQ(error->message.find('\n'), std::string::npos);
  EXPECT_FALSE(c->is_open());
}

TEST(PgConnection, RefusedPortFailsWithOneLine) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  const std::string url =
      "postgresql://postgres@127.0.0.1:" + std::to_string(unused_port()) + "/postgres";
  auto c = Connection::create(io.context());
  auto start = Clock::now();
  auto error = connect_sync(c, ConnectOptions{url, 5.0, 0.0, ""});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::connect_failed);
  EXPECT_NE(error->message.find("refused"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("127.0.0.1"), std::string::npos) << error->message;
  EXPECT_EQ(error->message.find('\n'), std::string::npos);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(PgConnection, ConnectTimesOutOnASilentServer) {
  PUFF_REQUIRE_POSTGRES();
  // A loopback listener that never answers: the TCP handshake completes, the startup reply
  // never comes.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string url = "postgresql://postgres@127.0.0.1:" +
                          std::to_string(ntohs(addr.sin_port)) + "/postgres?sslmode=disable";
  core::IoThreads io(2);
  auto c = Connection::create(io.context());
  auto start = Clock::now();
  auto error = connect_sync(c, ConnectOptions{url, 0.3, 0.0, ""});
  auto took = Clock::now() - start;
  ::close(listener);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, Error::Kind::timeout);
  EXPECT_NE(error->message.find("timed out"), std::string::npos) << error->message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST(PgConnection, StatementTimeoutFailsWith57014) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = Connection::create(io.context());
  ASSERT_FALSE(connect_sync(c, ConnectOptions{test_url(), 5.0, 0.1, ""}));
  auto start = Clock::now();
  auto out = query_sync(*c, "SELECT pg_sleep(3)");
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->sqlstate, "57014");
  EXPECT_LT(Clock::now() - start, 2s);
  auto shown = query_sync(*c, "SHOW statement_timeout");
  ASSERT_FALSE(shown.error);
  EXPECT_EQ(shown.results[0].value(0, 0), "100ms");
}

TEST(PgConnection, CancelStopsARunningStatement) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  auto done = std::make_shared<std::promise<QueryOutcome>>();
  auto f = done->get_future();
  auto start = Clock::now();
  c->execute("SELECT pg_sleep(10)", [done](QueryOutcome o) { done->set_value(std::move(o)); });
  EXPECT_TRUE(c->is_busy());
  std::this_thread::sleep_for(200ms);
  std::string why;
  EXPECT_TRUE(c->cancel(&why)) << why;
  auto out = wait_for(f, 5s);
  ASSERT_TRUE(out) << "the cancelled query did not finish";
  ASSERT_TRUE(out->error);
  EXPECT_EQ(out->error->sqlstate, "57014");
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_FALSE(query_sync(*c, "SELECT 1").error);  // still usable
}

TEST(PgConnection, CapturesNotices) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  auto out = query_sync(*c,
                        "DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$");
  ASSERT_FALSE(out.error) << out.error->message;
  auto notices = c->drain_notices();
  ASSERT_EQ(notices.size(), 2u);
  EXPECT_EQ(notices[0].severity, "NOTICE");
  EXPECT_EQ(notices[0].message, "hello 42");
  EXPECT_EQ(notices[0].sqlstate, "00000");
  EXPECT_EQ(notices[1].severity, "WARNING");
  EXPECT_TRUE(c->drain_notices().empty());
}

TEST(PgConnection, SecondOperationWhileBusyIsMisuse) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  auto done = std::make_shared<std::promise<QueryOutcome>>();
  auto f = done->get_future();
  c->execute("SELECT pg_sleep(0.2)", [done](QueryOutcome o) { done->set_value(std::move(o)); });
  EXPECT_THROW(c->execute("SELECT 1", [](QueryOutcome) {}), UsageError);
  auto out = wait_for(f, 5s);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->error);
}

TEST(PgConnection, CloseDuringAQueryCompletesItWithClosed) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto c = connected(io.context());
  auto done = std::make_shared<std::promise<QueryOutcome>>();
  auto f = done->get_future();
  c->execute("SELECT pg_sleep(5)", [done](QueryOutcome o) { done->set_value(std::move(o)); });
  std::this_thread::sleep_for(50ms);
  c->close();
  auto out = wait_for(f, 2s);
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->error);
  EXPECT_EQ(out->error->kind, Error::Kind::closed);
  auto after = query_sync(*c, "SELECT 1");
  ASSERT_TRUE(after.error);
  EXPECT_EQ(after.error->kind, Error::Kind::closed);
}

TEST(PgConnection, TerminatedBackendIsConnectionLost) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  auto victim = connected(io.context());
  auto admin = connected(io.context());
  auto killed = query_sync(*admin, "SELECT pg_terminate_backend($1)",
                           std::vector<std::optional<std::string>>{
                               std::to_string(victim->backend_pid())});
  ASSERT_FALSE(killed.error);
  std::this_thread::sleep_for(100ms);
  auto out = query_sync(*victim, "SELECT 1");
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.error->kind, Error::Kind::connection_lost) << out.error->message;
  EXPECT_EQ(out.error->message.find('\n'), std::string::npos);
  EXPECT_FALSE(victim->is_open());
}

TEST(PgConnection, NoDescriptorLeakAcross20Connections) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(2);
  warm_up(io.context());  // the reactor opens its epoll/timer/event fds on first use
  const int before = open_fd_count();
  for (int i = 0; i < 20; ++i) {
    auto c = connected(io.context());
    ASSERT_FALSE(query_sync(*c, "SELECT 1").error);
    c->close();
    // Runs after the close on the same strand: when it answers, PQfinish has run.
    EXPECT_EQ(query_sync(*c, "SELECT 1").error->kind, Error::Kind::closed);
  }
  // Connections that fail to connect must not leak either.
  const std::string refused =
      "postgresql://postgres@127.0.0.1:" + std::to_string(unused_port()) + "/postgres";
  for (int i = 0; i < 5; ++i) {
    auto c = Connection::create(io.context());
    EXPECT_TRUE(connect_sync(c, ConnectOptions{refused, 2.0, 0.0, ""}));
  }
  EXPECT_EQ(settle_fds(before), before);
}

}  // namespace
}  // namespace puff::pg
