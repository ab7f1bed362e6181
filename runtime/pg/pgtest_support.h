// Helpers for the *_pgtest.cpp suites: they need a real server in TEST_POSTGRES_URL
// (scripts/test starts a throwaway cluster) and skip without one. Every wait is bounded.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/test_support.h"
#include "pg/connection.h"
#include "pg/pool.h"

namespace puff::pg::testing {

using core::testing::open_fd_count;
using core::testing::settle_fds;
using core::testing::unused_port;


using namespace std::chrono_literals;

inline std::string test_url() {
  const char* url = std::getenv("TEST_POSTGRES_URL");
  return url ? url : "";
}

#define PUFF_REQUIRE_POSTGRES()                                                        \
  do {                                                                                 \
    if (::puff::pg::testing::test_url().empty())                                       \
      GTEST_SKIP() << "TEST_POSTGRES_URL is not set (scripts/test sets it)";      \
  } while (0)

// `url` with one more query parameter (the test URL has none of its own).
inline std::string with_param(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

template <typename T>
std::optional<T> wait_for(std::future<T>& f, std::chrono::milliseconds limit) {
  if (f.wait_for(limit) != std::future_status::ready) return std::nullopt;
  return f.get();
}

inline std::optional<Error> connect_sync(const std::shared_ptr<Connection>& c,
                                         ConnectOptions options) {
  auto done = std::make_shared<std::promise<std::optional<Error>>>();
  auto f = done->get_future();
  c->connect(std::move(options), [done](std::optional<Error> e) { done->set_value(std::move(e)); });
  auto r = wait_for(f, 10s);
  if (!r) {
    ADD_FAILURE() << "connect did not complete within 10 s";
    return Error{Error::Kind::timeout, "", "test: connect hung", "", ""};
  }
  return *r;
}

inline std::shared_ptr<Connection> connected(boost::asio::io_context& io,
                                             const std::string& url = test_url()) {
  auto c = Connection::create(io);
  auto error = connect_sync(c, ConnectOptions{url, 5.0, 0.0, ""});
  EXPECT_FALSE(error) << (error ? error->message : "");
  return c;
}

inline QueryOutcome query_sync(Connection& c, std::string sql,
                               std::optional<std::vector<std::optional<std::string>>> params =
                                   std::nullopt,
                               std::chrono::milliseconds limit = 10s) {
  auto done = std::make_shared<std::promise<QueryOutcome>>();
  auto f = done->get_future();
  auto cb = [done](QueryOutcome o) { done->set_value(std::move(o)); };
  if (params) {
    c.execute(std::move(sql), std::move(*params), cb);
  } else {
    c.execute(std::move(sql), cb);
  }
  auto r = wait_for(f, limit);
  if (!r) {
    ADD_FAILURE() << "query did not complete in time";
    QueryOutcome hung;
    hung.error = Error{Error::Kind::timeout, "", "test: query hung", "", ""};
    return hung;
  }
  return std::move(*r);
}

// One copy() call or step, waited for (bounded).
inline CopyStep step_sync(const std::function<void(Connection::CopyCallback)>& call,
                          std::chrono::milliseconds limit = 10s) {
  auto done = std::make_shared<std::promise<CopyStep>>();
  auto f = done->get_future();
  call([done](CopyStep step) { done->set_value(std::move(step)); });
  auto r = wait_for(f, limit);
  if (!r) {
    ADD_FAILURE() << "COPY step did not complete in time";
    CopyStep hung;
    hung.outcome.error = Error{Error::Kind::timeout, "", "test: COPY step hung", "", ""};
    return hung;
  }
  return std::move(*r);
}

struct CopyRun {
  QueryOutcome outcome;
  std::string output;      // everything COPY TO STDOUT sent
  int batches = 0;         // copy_out steps
  std::size_t largest = 0;  // the largest batch
  int copy_in_turns = 0;   // copy_in steps
};

// Drives copy(sql) to its end: each COPY FROM STDIN gets `input`'s chunks, then the end (or
// copy_abort(*abort_reason) instead); COPY TO STDOUT's data is collected.
inline CopyRun copy_sync(Connection& c, std::string sql, std::vector<std::string> input = {},
                         std::optional<std::string> abort_reason = std::nullopt) {
  CopyRun run;
  CopyStep step = step_sync([&](auto cb) { c.copy(std::move(sql), cb); });
  while (step.kind != CopyStep::Kind::done) {
    if (step.kind == CopyStep::Kind::copy_out) {
      ++run.batches;
      run.largest = std::max(run.largest, step.data.size());
      run.output += step.data;
      step = step_sync([&](auto cb) { c.copy_out_next(cb); });
      continue;
    }
    if (run.copy_in_turns++ < static_cast<int>(input.size())) {
      std::string chunk = input[static_cast<std::size_t>(run.copy_in_turns - 1)];
      step = step_sync([&](auto cb) { c.copy_in_put(std::move(chunk), cb); });
    } else if (abort_reason) {
      step = step_sync([&](auto cb) { c.copy_abort(*abort_reason, cb); });
    } else {
      step = step_sync([&](auto cb) { c.copy_in_end(cb); });
    }
  }
  run.outcome = std::move(step.outcome);
  return run;
}

// Pool options for tests: the test server, no minimum size, 5 s timeouts.
inline PoolOptions test_pool_options(const std::string& name, int max_size) {
  PoolOptions o;
  o.name = name;
  o.conninfo = test_url();
  o.min_size = 0;
  o.max_size = max_size;
  o.acquire_timeout_s = 5.0;
  o.connect_timeout_s = 5.0;
  return o;
}

struct Acquired {
  std::optional<Error> error;
  Lease lease;
};

// Starts an acquire and returns its outcome to come (for a waiter served or failed later).
inline std::future<Acquired> acquire_later(Pool& pool) {
  auto done = std::make_shared<std::promise<Acquired>>();
  auto f = done->get_future();
  pool.acquire([done](std::optional<Error> e, Lease l) {
    done->set_value(Acquired{std::move(e), std::move(l)});
  });
  return f;
}

inline Acquired acquire_sync(Pool& pool, std::chrono::milliseconds limit = 10s) {
  auto f = acquire_later(pool);
  auto r = wait_for(f, limit);
  if (!r) {
    ADD_FAILURE() << "acquire did not complete in time";
    return Acquired{Error{Error::Kind::timeout, "", "test: acquire hung", "", ""}, Lease()};
  }
  return std::move(*r);
}

// One connect/close cycle, so that lazily created descriptors (Asio's epoll, timerfd and
// eventfd) exist before a test counts descriptors.
inline void warm_up(boost::asio::io_context& io) {
  auto c = connected(io);
  c->close();
  EXPECT_EQ(query_sync(*c, "SELECT 1").error->kind, Error::Kind::closed);
}

#ifdef PUFF_SERVERS_SH
// A PostgreSQL cluster of the test's own, made and run by scripts/lib/servers.sh as scripts/test
// makes the shared one (which serves other tests and must not be stopped). Removed when
// destroyed.
class ThrowawayPostgres {
 public:
  ThrowawayPostgres() {
    char pattern[] = "/tmp/puff-pgtest.XXXXXX";
    if (!::mkdtemp(pattern)) return;
    dir_ = pattern;
    ::chmod(dir_.c_str(), 0755);  // the cluster runs as `postgres` when we are root
    auto out = servers_sh("start_test_postgres \"$1/cluster\" && echo \"$TEST_POSTGRES_PORT\"");
    port_ = out ? std::atoi(out->c_str()) : 0;
  }
  ~ThrowawayPostgres() {
    if (port_) servers_sh("stop_test_postgres \"$1/cluster\" immediate");
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  ThrowawayPostgres(const ThrowawayPostgres&) = delete;
  ThrowawayPostgres& operator=(const ThrowawayPostgres&) = delete;

  bool running() const { return port_ != 0; }
  std::string url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
  }
  // pg_ctl stop -m fast: sessions are told the server shuts down, as in a real restart.
  bool stop() { return servers_sh("stop_test_postgres \"$1/cluster\" fast").has_value(); }
  // Starts it again on the same port and waits until it accepts connections.
  bool start() {
    return servers_sh("run_test_postgres \"$1/cluster\" " + std::to_string(port_)).has_value();
  }

 private:
  // Runs `script` after sourcing servers.sh, with $1 = our directory; its output, or nullopt
  // (and a test failure) when it fails.
  std::optional<std::string> servers_sh(const std::string& script) const {
    const std::string command = "bash -c 'source \"$0\" && " + script + "' " PUFF_SERVERS_SH " '" +
                                dir_ + "' 2>&1";
    std::string out;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
      char buffer[512];
      while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
      if (::pclose(pipe) == 0) return out;
    }
    ADD_FAILURE() << script << " failed: " << out;
    return std::nullopt;
  }

  std::string dir_;
  int port_ = 0;
};
#endif

}  // namespace puff::pg::testing
