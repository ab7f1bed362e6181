#include <gtest/gtest.h>

#include <thread>

#include "core/io_threads.h"
#include "pg/pgtest_support.h"

namespace puff::pg {
namespace {

using namespace puff::pg::testing;

std::optional<Error> consume_sync(Connection& c) {
  auto p = std::make_shared<std::promise<std::optional<Error>>>();
  auto f = p->get_future();
  c.consume_input([p](std::optional<Error> e) { p->set_value(std::move(e)); });
  auto r = wait_for(f, std::chrono::seconds(5));
  if (!r) return Error{Error::Kind::timeout, "", "test: consume_input hung", "", ""};
  return std::move(*r);
}

TEST(PgNotify, NotificationsArriveWithTheNextOperationOrByConsumingInput) {
  PUFF_REQUIRE_POSTGRES();
  core::IoThreads io(1);
  auto listener = connected(io.context());
  auto notifier = connected(io.context());
  ASSERT_FALSE(query_sync(*listener, "LISTEN puff_channel").error);

  ASSERT_FALSE(query_sync(*notifier, "NOTIFY puff_channel, 'first'").error);
  ASSERT_FALSE(query_sync(*notifier, "SELECT pg_notify('puff_channel', 'second')").error);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(listener->drain_notifications().empty()) << "nothing read yet";
  ASSERT_FALSE(consume_sync(*listener));
  auto got = listener->drain_notifications();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].channel, "puff_channel");
  EXPECT_EQ(got[0].payload, "first");
  EXPECT_EQ(got[1].payload, "second");
  EXPECT_EQ(got[0].pid, notifier->backend_pid());
  EXPECT_TRUE(listener->drain_notifications().empty()) << "drained once";

  // A NOTIFY to oneself arrives with the statement's own results.
  ASSERT_FALSE(query_sync(*listener, "NOTIFY puff_channel, 'self'").error);
  got = listener->drain_notifications();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].pid, listener->backend_pid());
}

TEST(PgNotify, ConsumeInputInlineOnAPrivateIoContextAndOnABrokenConnection) {
  PUFF_REQUIRE_POSTGRES();
  boost::asio::io_context own;  // nobody runs it: the inline calls never need it
  auto listener = Connection::create(own);
  auto connecting = std::make_shared<std::promise<std::optional<Error>>>();
  auto f = connecting->get_future();
  listener->connect(ConnectOptions{test_url(), 5.0, 0.0, ""},
                    [connecting](std::optional<Error> e) { connecting->set_value(e); });
  own.run();
  ASSERT_FALSE(f.get());
  ASSERT_FALSE(listener->execute_inline("LISTEN inline_channel", {}).error);
  EXPECT_GE(listener->socket_fd(), 0);

  core::IoThreads io(1);
  auto notifier = connected(io.context());
  ASSERT_FALSE(query_sync(*notifier, "NOTIFY inline_channel, 'x'").error);
  pollfd p{listener->socket_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the notification makes the socket readable";
  EXPECT_TRUE(listener->consume_input_inline());
  auto got = listener->drain_notifications();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "x");

  // The server ends the session: consuming input reports it and closes the connection.
  ASSERT_FALSE(query_sync(*notifier, "SELECT pg_terminate_backend(" +
                                         std::to_string(listener->backend_pid()) + ")")
                   .error);
  // The server's FATAL message and its hang-up may come in separate reads: poll again until
  // the connection reports the loss, as a caller's select() loop would.
  bool alive = true;
  for (int i = 0; i < 100 && alive; ++i) {
    ::poll(&p, 1, 100);
    alive = listener->consume_input_inline();
  }
  EXPECT_FALSE(alive);
  EXPECT_FALSE(listener->is_open());
  EXPECT_EQ(listener->socket_fd(), -1);
  own.restart();
  own.run();  // whatever the close left for the io_context
}

}  // namespace
}  // namespace puff::pg
