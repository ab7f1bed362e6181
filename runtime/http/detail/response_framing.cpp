#include "http/detail/response_framing.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "core/log.h"
#include "http/response_head.h"
#include "http/syntax.h"

namespace puff::http::detail {
namespace {

std::optional<std::uint64_t> parse_length(const std::string& value) {
  if (value.empty() || value.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

bool frame_head(ExchangeState& ex, const ResponseHead& head, bool close) {
  bool no_body = ex.head_request || status_has_no_body(head.status);
  // The client may still hold its body back, waiting for a 100 Continue that never came.
  if (ex.head.expects_continue && !ex.continue_sent && !ex.body_done) close = true;
  std::optional<std::uint64_t> declared;
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(head.status);
  out += ' ';
  out += head.reason;
  out += "\r\n";
  bool has_date = false;
  for (const Header& header : head.headers) {
    // Framing and the connection are the server's business (PEP 3333: hop-by-hop headers).
    if (header_is(header, "Transfer-Encoding") || header_is(header, "Keep-Alive")) continue;
    if (header_is(header, "Connection")) {
      if (list_contains(header.value, "close")) close = true;
      continue;
    }
    if (header_is(header, "Content-Length")) {
      declared = parse_length(header.value);
      if (!declared) continue;  // not a number: framed as if absent
    }
    if (header_is(header, "Date")) has_date = true;
    out += header.name;
    out += ": ";
    out += header.value;
    out += "\r\n";
  }
  if (!has_date) {
    out += "Date: ";
    out += http_date_now();
    out += "\r\n";
  }
  if (no_body) {
    ex.framing = ExchangeState::Framing::none;
  } else if (declared) {
    ex.framing = ExchangeState::Framing::fixed;
    ex.remaining = *declared;
  } else if (ex.head.version == 11) {
    ex.framing = ExchangeState::Framing::chunked;
    out += "Transfer-Encoding: chunked\r\n";
  } else {
    ex.framing = ExchangeState::Framing::until_close;
    close = true;
  }
  if (close) {
    out += "Connection: close\r\n";
  } else if (ex.head.version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  ex.close_after = close;
  ex.out.push_back({std::move(out), nullptr});
  return close;
}

std::string frame_body(ExchangeState& ex, std::string body, bool last) {
  using Framing = ExchangeState::Framing;
  std::string out;
  switch (ex.framing) {
    case Framing::none:
      break;
    case Framing::fixed:
      if (body.size() > ex.remaining) {
        core::log_warning("http: the response to ", ex.head.method, " ", ex.head.target,
                          " is longer than its Content-Length; the rest was dropped");
        body.resize(ex.remaining);
      }
      ex.remaining -= body.size();
      ex.body_bytes += body.size();
      out = std::move(body);
      if (last && ex.remaining > 0) {
        core::log_warning("http: the response to ", ex.head.method, " ", ex.head.target,
                          " ended ", ex.remaining, " bytes short of its Content-Length; "
                          "closing the connection");
        ex.close_after = true;
      }
      break;
    case Framing::chunked:
      ex.body_bytes += body.size();
      if (!body.empty()) {
        char size[24];
        int n = std::snprintf(size, sizeof size, "%zx\r\n", body.size());
        out.reserve(body.size() + static_cast<std::size_t>(n) + 7);
        out.append(size, static_cast<std::size_t>(n));
        out += body;
        out += "\r\n";
      }
      if (last) out += "0\r\n\r\n";
      break;
    case Framing::until_close:
      ex.body_bytes += body.size();
      out = std::move(body);
      break;
  }
  return out;
}

void frame_file(ExchangeState& ex, std::shared_ptr<FileSegment> file, SendCallback done) {
  using Framing = ExchangeState::Framing;
  std::uint64_t length = file ? file->remaining : 0;
  switch (ex.framing) {
    case Framing::none:
      ex.out.push_back({"", std::move(done), nullptr});
      break;
    case Framing::fixed:
      if (length > ex.remaining) length = ex.remaining;
      ex.remaining -= length;
      ex.body_bytes += length;
      if (ex.remaining > 0) ex.close_after = true;  // shorter than its Content-Length
      file->remaining = length;
      ex.out.push_back({"", nullptr, length ? std::move(file) : nullptr});
      ex.out.push_back({"", std::move(done), nullptr});
      break;
    case Framing::chunked: {
      ex.body_bytes += length;
      char size[24];
      int n = std::snprintf(size, sizeof size, "%llx\r\n", static_cast<unsigned long long>(length));
      if (length) {
        ex.out.push_back({std::string(size, static_cast<std::size_t>(n)), nullptr, std::move(file)});
        ex.out.push_back({"\r\n0\r\n\r\n", std::move(done), nullptr});
      } else {
        ex.out.push_back({"0\r\n\r\n", std::move(done), nullptr});
      }
      break;
    }
    case Framing::until_close:
      ex.body_bytes += length;
      ex.out.push_back({"", nullptr, length ? std::move(file) : nullptr});
      ex.out.push_back({"", std::move(done), nullptr});
      break;
  }
  ex.finished = true;
}

}  // namespace puff::http::detail
