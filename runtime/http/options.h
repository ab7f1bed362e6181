// The limits and timeouts of one HTTP server (filled from config::HttpConfig by the caller).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <vector>

#include "http/accept_balance.h"
#include "http/access_log.h"
#include "http/static_files.h"

namespace puff::http {

struct ServerOptions {
  std::string bind = "127.0.0.1:8000";      // HOST:PORT, [IPv6]:PORT or unix:/path
  std::uint64_t max_header_bytes = 64 * 1024;  // request line + headers; more -> 431
  std::uint32_t max_header_fields = 100;       // header field lines; more -> 431
  std::uint64_t max_body_bytes = 100 * 1024 * 1024;  // more -> 413
  // A request body is read ahead up to this much before the handler gets the request, so that
  // a slow client costs a buffer rather than a running request (0: the handler gets the head).
  std::uint64_t body_buffer_bytes = 1024 * 1024;
  double min_body_rate = 1024;        // bytes/s a body must keep up (see body_pace.h); 0: no floor
  double header_timeout_s = 10.0;     // the whole head must arrive in this time (slowloris)
  double keepalive_timeout_s = 5.0;   // an idle keep-alive connection is closed after this
  double idle_timeout_s = 60.0;       // a body read or a response write without progress
  double request_timeout_s = 60.0;    // from the head until the response starts
  int max_connections = 10000;        // more wait in the listen backlog
  int pipeline_depth = 16;            // requests of one connection in flight at once
  AccessLogFormat access_log = AccessLogFormat::common;
  int backlog = 1024;
  // An already listening socket to accept on instead of opening `bind` (the workers of
  // `puff runserver --workers N` share the supervisor's). The server closes its copy.
  int listen_fd = -1;
  // With listen_fd: the workers' shared counts and this worker's slot in them (-1: none, it
  // accepts whenever it can).
  std::shared_ptr<AcceptBalance> accept_balance;
  int balance_slot = -1;
  std::vector<StaticMount> static_mounts;  // served by the server, never by the handler
};

}  // namespace puff::http
