// runtime/http on its own, with a C++ handler (no Python): the interface the WSGI layer uses,
// over real loopback sockets.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/io_threads.h"
#include "core/test_support.h"

namespace puff::http {
namespace {

int connect_to(const std::string& address) {
  int port = std::stoi(address.substr(address.rfind(':') + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// Everything the server sends until it closes (or the 10 s receive timeout).
std::string send_and_read_all(const std::string& address, const std::string& request) {
  int fd = connect_to(address);
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) out.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

// Reads the whole body (in 3-byte steps), then answers "<method> <target> <body>".
void echo(std::shared_ptr<Exchange> exchange, std::shared_ptr<std::string> body) {
  exchange->read_body(3, [exchange, body](BodyRead read) {
    if (!read.error.empty()) return;
    *body += read.data;
    if (!read.eof) {
      echo(exchange, body);
      return;
    }
    const RequestHead& request = exchange->request();
    exchange->send(ResponseHead{200, "OK", {{"X-Test", "1"}}},
                   request.method + " " + request.target + " " + *body, true, nullptr);
  });
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(Handler handler, ServerOptions options = {}) {
    options.bind = "127.0.0.1:0";
    options.access_log = AccessLogFormat::off;
    server_ = std::make_unique<Server>(io_.context(), options, std::move(handler));
    ASSERT_EQ(server_->start(), "");
  }
  void TearDown() override {
    server_.reset();
    io_.stop();
  }
  core::IoThreads io_{2};
  std::unique_ptr<Server> server_;
};

TEST_F(HttpServerTest, StreamsBodiesAndAnswersPipelinedRequestsInOrder) {
  start([](std::shared_ptr<Exchange> exchange) {
    echo(std::move(exchange), std::make_shared<std::string>());
  });
  std::string out = send_and_read_all(
      server_->address(),
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
      "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto a = out.find("POST /a hello world");
  auto b = out.find("POST /b abcdef");
  auto c = out.find("GET /c ");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  ASSERT_NE(c, std::string::npos) << out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(out.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
}

TEST_F(HttpServerTest, HandlerThatThrowsOrDropsTheExchangeGets500) {
  start([](std::shared_ptr<Exchange> exchange) {
    if (exchange->request().target == "/throw") throw std::runtime_error("handler bug");
    // "/drop": the exchange goes away unanswered.
  });
  for (const char* target : {"/throw", "/drop"}) {
    std::string out = send_and_read_all(
        server_->address(),
        std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << out;
  }
}

TEST_F(HttpServerTest, LimitsAndMalformedRequests) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  options.max_body_bytes = 10;
  start([](std::shared_ptr<Exchange> exchange) {
    echo(std::move(exchange), std::make_shared<std::string>());
  }, options);
  auto status_of = [&](const std::string& request) {
    std::string out = send_and_read_all(server_->address(), request);
    return out.substr(0, out.find("\r\n"));
  };
  EXPECT_EQ(status_of("NOT HTTP\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX: " + std::string(2000, 'y') + "\r\n\r\n"),
            "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"),
            "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            "HTTP/1.1 400 Bad Request");
}

TEST_F(HttpServerTest, InvalidResponseHeadIsRefused) {
  start([](std::shared_ptr<Exchange> exchange) {
    exchange->send(ResponseHead{200, "OK", {{"X-Bad", "a\r\nInjected: 1"}}}, "body", true,
                   nullptr);
  });
  std::string out = send_and_read_all(server_->address(),
                                      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 500 ", 0), 0u) << out;
  EXPECT_EQ(out.find("Injected"), std::string::npos) << out;
}

TEST_F(HttpServerTest, ShutdownWaitsForTheResponseInFlight) {
  std::atomic<bool> drained{false};
  std::shared_ptr<Exchange> held;
  std::atomic<bool> got{false};
  start([&](std::shared_ptr<Exchange> exchange) {
    held = std::move(exchange);
    got = true;
  });
  int fd = connect_to(server_->address());
  std::string request = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  for (int i = 0; i < 1000 && !got; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(got);
  server_->shutdown([&] { drained = true; });
  EXPECT_FALSE(drained);
  held->send(ResponseHead{200, "OK", {}}, "late", true, nullptr);
  held.reset();
  std::string out;
  char buffer[1024];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) out.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  EXPECT_NE(out.find("late"), std::string::npos) << out;
  for (int i = 0; i < 1000 && !drained; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(drained);
}

}  // namespace
}  // namespace puff::http
