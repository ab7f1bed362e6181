// The values that cross between runtime/http (IO threads) and whoever handles requests
// (runtime/wsgi on the hub). Plain C++ data: no sockets, no Python.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace puff::http {

struct Header {
  std::string name;
  std::string value;
};

// Both ends of the connection. For a unix socket, remote_addr is "" and ports are 0.
struct Peer {
  std::string remote_addr;
  int remote_port = 0;
  std::string local_addr;  // numeric address the connection was accepted on; "" for unix
  int local_port = 0;
  bool unix_socket = false;
};

// What the client asked, parsed on an IO thread and immutable afterwards.
struct RequestHead {
  std::string method;
  std::string target;         // the raw request-target ("/a%20b?x=1")
  unsigned version = 11;      // 10 = HTTP/1.0, 11 = HTTP/1.1
  std::vector<Header> headers;  // in arrival order, duplicates kept
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool expects_continue = false;  // "Expect: 100-continue"
  Peer peer;
};

// What the handler answers. The status line is "HTTP/1.1 <status> <reason>".
struct ResponseHead {
  int status = 200;
  std::string reason;
  std::vector<Header> headers;
};

// One step of reading the request body. `error` non-empty: the body cannot be read (client
// gone, invalid chunked encoding, timeout); `eof`: nothing more will come.
struct BodyRead {
  std::string data;
  bool eof = false;
  std::string error;
};

// Callbacks run on the connection's IO thread, exactly once, and must not throw.
using BodyCallback = std::function<void(BodyRead)>;
// `ok` false: the bytes were not delivered (the client is gone or the connection closed).
using SendCallback = std::function<void(bool ok)>;

}  // namespace puff::http
