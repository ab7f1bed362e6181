// Helpers for the *_redistest.cpp suites: they need a real server in TEST_REDIS_URL
// (scripts/test starts a throwaway one) and skip without one. Tests that stop, restart or
// configure a server (requirepass, unix socket, DEBUG) start a throwaway redis-server of their
// own. Every wait is bounded.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/io_threads.h"
#include "core/test_support.h"
#include "redis/connection.h"
#include "redis/pool.h"

namespace puff::redis::testing {

using core::testing::open_fd_count;
using core::testing::settle_fds;
using core::testing::unused_port;


using namespace std::chrono_literals;

// Keys unique to this process, so that parallel test runs never share data.
inline std::string test_key(const std::string& name) {
  return "puff-test:" + std::to_string(::getpid()) + ":" + name;
}

inline std::string test_url() {
  const char* url = std::getenv("TEST_REDIS_URL");
  return url ? url : "";
}

#define PUFF_REQUIRE_REDIS()                                                   \
  do {                                                                         \
    if (::puff::redis::testing::test_url().empty())                            \
      GTEST_SKIP() << "TEST_REDIS_URL is not set (scripts/test sets it)";      \
  } while (0)

// What a command came back with.
struct Outcome {
  std::optional<Error> error;
  Reply reply;
};

inline Outcome hung(const char* what) {
  ADD_FAILURE() << what << " did not complete within the test's limit";
  return Outcome{Error{Error::Kind::timeout, std::string("test: ") + what + " hung"}, Reply{}};
}

// Runs `call(callback)` and waits for the callback (bounded).
template <class Call>
Outcome outcome_of(const Call& call, std::chrono::milliseconds limit = 10s) {
  auto done = std::make_shared<std::promise<Outcome>>();
  auto f = done->get_future();
  call([done](std::optional<Error> e, Reply r) { done->set_value(Outcome{std::move(e), std::move(r)}); });
  if (f.wait_for(limit) != std::future_status::ready) return hung("a command");
  return f.get();
}

inline Outcome run(Connection& c, const std::vector<std::string_view>& args,
                   double timeout_s = Connection::kDefaultTimeout) {
  return outcome_of([&](auto cb) { c.execute(args, cb, timeout_s); });
}

inline Outcome run(Pool& pool, const std::vector<std::string_view>& args) {
  return outcome_of([&](auto cb) { pool.execute(args, cb); });
}

struct BatchOutcome {
  std::optional<Error> error;
  std::vector<Reply> replies;
};

template <class Target>
BatchOutcome run_batch(Target& target, const std::vector<Connection::Command>& commands,
                       double timeout_s = Connection::kDefaultTimeout) {
  auto done = std::make_shared<std::promise<BatchOutcome>>();
  auto f = done->get_future();
  target.execute_batch(commands, [done](std::optional<Error> e, std::vector<Reply> r) {
    done->set_value(BatchOutcome{std::move(e), std::move(r)});
  }, timeout_s);
  if (f.wait_for(10s) != std::future_status::ready) return BatchOutcome{hung("a batch").error, {}};
  return f.get();
}

inline std::optional<Error> connect_sync(Connection& c) {
  auto done = std::make_shared<std::promise<std::optional<Error>>>();
  auto f = done->get_future();
  c.connect([done](std::optional<Error> e) { done->set_value(std::move(e)); });
  if (f.wait_for(10s) != std::future_status::ready) return hung("connect").error;
  return f.get();
}

inline ConnectionOptions options_for(const std::string& url, double command_timeout_s = 5.0) {
  std::string error;
  auto parsed = parse_url(url, &error);
  EXPECT_TRUE(parsed) << error;
  ConnectionOptions o;
  o.url = parsed.value_or(Url{});
  o.connect_timeout_s = 5.0;
  o.command_timeout_s = command_timeout_s;
  return o;
}

inline std::shared_ptr<Connection> connected(boost::asio::io_context& io,
                                             const std::string& url = test_url()) {
  auto c = Connection::create(io, options_for(url));
  auto error = connect_sync(*c);
  EXPECT_FALSE(error) << error->message;
  return c;
}

inline PoolOptions pool_options(const std::string& name, const std::string& url, int size = 2) {
  PoolOptions o;
  o.name = name;
  o.url = url;
  o.size = size;
  o.connect_timeout_s = 5.0;
  o.command_timeout_s = 5.0;
  o.reconnect_backoff_max_s = 0.2;
  return o;
}

// Waits (bounded) until `count` shared connections are up; returns how many are.
inline int wait_connected(Pool& pool, int count) {
  pool.start();
  for (int i = 0; i < 250 && pool.stats().connected < count; ++i) std::this_thread::sleep_for(10ms);
  return pool.stats().connected;
}

struct Lent {
  std::optional<Error> error;
  Dedicated connection;
};

inline Lent dedicated_sync(Pool& pool) {
  auto done = std::make_shared<std::promise<Lent>>();
  auto f = done->get_future();
  pool.dedicated([done](std::optional<Error> e, Dedicated d) {
    done->set_value(Lent{std::move(e), std::move(d)});
  });
  if (f.wait_for(10s) != std::future_status::ready) return Lent{hung("dedicated").error, {}};
  return f.get();
}

// Retries `args` on the pool until it succeeds (bounded): for waiting out a reconnect.
inline Outcome run_until_ok(Pool& pool, const std::vector<std::string_view>& args,
                            std::chrono::milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  Outcome last;
  do {
    last = run(pool, args);
    if (!last.error) return last;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < until);
  return last;
}

// A scripted stand-in for a server that misbehaves: accepts one connection on a loopback port
// and answers each chunk it receives with whatever `respond(chunk)` returns (may be empty;
// nullopt hangs up).
class FakeServer {
 public:
  using Respond = std::function<std::optional<std::string>(const std::string&)>;
  explicit FakeServer(Respond respond)
      : respond_(std::move(respond)), listener_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  // Waits (in 50 ms steps, so that the destructor is never kept waiting) until fd is readable.
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  void serve() {
    if (!readable(listener_)) return;
    int client = ::accept(listener_, nullptr, nullptr);
    char buffer[4096];
    while (client >= 0 && readable(client)) {
      ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      auto answer = respond_(std::string(buffer, static_cast<std::size_t>(n)));
      if (!answer) break;
      if (!answer->empty()) ::send(client, answer->data(), answer->size(), MSG_NOSIGNAL);
    }
    if (client >= 0) ::close(client);
  }

  Respond respond_;
  int listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A redis-server of the test's own, on a free loopback port (and a unix socket in its
// directory); `extra` adds configuration ("--requirepass x"). Stopped when destroyed.
class ThrowawayRedis {
 public:
  explicit ThrowawayRedis(std::string extra = "") : extra_(std::move(extra)), port_(unused_port()) {
    char pattern[] = "/tmp/puff-redistest.XXXXXX";
    dir_ = ::mkdtemp(pattern) ? pattern : "/tmp";
    start();
  }
  ~ThrowawayRedis() {
    stop();
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  ThrowawayRedis(const ThrowawayRedis&) = delete;
  ThrowawayRedis& operator=(const ThrowawayRedis&) = delete;

  // Starts (again, on the same port) and waits until it answers; false when it does not.
  bool start() {
    std::string command = "redis-server --bind 127.0.0.1 --port " + std::to_string(port_) +
                          " --unixsocket " + socket_path() +
                          " --unixsocketperm 700 --save '' --appendonly no --daemonize yes" +
                          " --pidfile " + dir_ + "/redis.pid --logfile " + dir_ +
                          "/redis.log --dir " + dir_ + " " + extra_;
    if (std::system(command.c_str()) != 0) return false;
    for (int i = 0; i < 200; ++i) {
      if (pid() > 0 && ::access(socket_path().c_str(), F_OK) == 0) return true;
      std::this_thread::sleep_for(25ms);
    }
    ADD_FAILURE() << "redis-server did not start; see " << dir_ << "/redis.log";
    return false;
  }

  // SIGKILL: the kernel closes every client connection at once, as in a crash.
  void kill_now() { end(SIGKILL); }
  void stop() { end(SIGTERM); }

  std::string url(const std::string& userinfo = "") const {
    return "redis://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" +
           std::to_string(port_) + "/0";
  }
  std::string socket_path() const { return dir_ + "/redis.sock"; }
  int port() const { return port_; }

 private:
  void end(int signal) {
    int p = pid();
    if (p <= 0) return;
    ::kill(p, signal);
    for (int i = 0; i < 200 && alive(p); ++i) std::this_thread::sleep_for(10ms);
    ::unlink((dir_ + "/redis.pid").c_str());  // SIGKILL leaves them behind
    ::unlink(socket_path().c_str());
  }

  // Exited, even if nobody reaped it yet (a daemon's parent may be an init that does not).
  static bool alive(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string ignored, state;
    if (!(in >> ignored)) return false;
    std::getline(in, ignored, ')');
    in >> state;
    return state != "Z" && state != "X";
  }

  int pid() const {
    std::ifstream in(dir_ + "/redis.pid");
    int p = 0;
    in >> p;
    return p;
  }

  std::string extra_;
  int port_;
  std::string dir_;
};

}  // namespace puff::redis::testing
