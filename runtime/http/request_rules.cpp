#include "http/request_rules.h"

#include <cstring>

#include "http/response_head.h"
#include "http/syntax.h"

namespace puff::http {
namespace {

constexpr HeadVerdict bad_request(std::string_view why) { return {400, "Bad Request", why}; }
constexpr HeadVerdict too_large(std::string_view why) {
  return {431, "Request Header Fields Too Large", why};
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// uri-host [":" port] (RFC 9110 §7.2, RFC 3986 §3.2.2), empty allowed; no userinfo, path,
// whitespace or controls.
bool valid_host(std::string_view value) {
  static constexpr std::string_view extra = "-._~!$&'()*+,;=:[]%";
  for (char c : value) {
    bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    if (!alnum && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

std::size_t HeadScanner::scan(std::string_view buffered, HeadVerdict& verdict) {
  while (scanned_ < buffered.size()) {
    const void* found =
        std::memchr(buffered.data() + scanned_, '\n', buffered.size() - scanned_);
    if (found == nullptr) {
      scanned_ = buffered.size();
      break;
    }
    std::size_t newline = static_cast<std::size_t>(static_cast<const char*>(found) -
                                                   buffered.data());
    scanned_ = newline + 1;
    if (newline == line_start_ || buffered[newline - 1] != '\r') {
      verdict = bad_request("a line of the request head ends in a bare LF");
      return 0;
    }
    if (newline - 1 == line_start_) {  // an empty line
      if (lines_ == 0) {
        // RFC 9112 §2.2: empty lines before the request line are ignored (some clients send
        // a CRLF after a body). They still count against max_bytes.
        head_start_ = line_start_ = scanned_;
        continue;
      }
      if (scanned_ > limits_.max_bytes) {
        verdict = too_large("the request head is larger than max_header_bytes");
        return 0;
      }
      return scanned_;
    }
    char first = buffered[line_start_];
    if (lines_ > 0 && (first == ' ' || first == '\t')) {
      verdict = bad_request("a header line starts with whitespace (obs-fold is not accepted)");
      return 0;
    }
    ++lines_;
    if (lines_ - 1 > limits_.max_fields) {
      verdict = too_large("the request has more header fields than max_header_fields");
      return 0;
    }
    line_start_ = scanned_;
  }
  if (buffered.size() > limits_.max_bytes) {
    verdict = too_large("the request head is larger than max_header_bytes");
  }
  return 0;
}

HeadVerdict check_request_framing(const RequestHead& head, Framing& framing) {
  int hosts = 0;
  int lengths = 0;
  bool transfer_encoding = false;
  std::string_view last_coding;
  bool chunked_not_last = false;
  bool other_coding = false;
  for (const Header& header : head.headers) {
    if (header_is(header, "Transfer-Encoding")) {
      transfer_encoding = true;
      // Several fields are one list (RFC 9110 §5.3): the codings in order of application.
      for_each_list_element(header.value, [&](std::string_view coding) {
        if (!last_coding.empty()) {
          (equals_ignoring_case(last_coding, "chunked") ? chunked_not_last : other_coding) = true;
        }
        last_coding = coding;
        return true;
      });
    } else if (header_is(header, "Content-Length")) {
      ++lengths;
      if (!all_digits(header.value)) {
        return bad_request("Content-Length is not a single decimal number");
      }
    } else if (header_is(header, "Host")) {
      ++hosts;
      if (!valid_host(header.value)) return bad_request("the Host header is not a valid host");
    }
  }
  if (lengths > 1) return bad_request("the request has more than one Content-Length");
  if (transfer_encoding) {
    if (lengths > 0) return bad_request("the request has both Transfer-Encoding and Content-Length");
    if (!equals_ignoring_case(last_coding, "chunked")) {
      return bad_request("Transfer-Encoding does not end in chunked");
    }
    if (chunked_not_last) return bad_request("Transfer-Encoding applies chunked twice");
    if (other_coding) {
      return {501, "Not Implemented", "transfer codings other than chunked are not supported"};
    }
    // RFC 9112 §6.1: HTTP/1.0 framing with Transfer-Encoding is suspect; never reuse the
    // connection after it.
    if (head.version == 10) framing.close_after = true;
    framing.chunked = true;
  }
  if (head.version == 11 ? hosts != 1 : hosts > 1) {
    return bad_request(hosts == 0 ? "an HTTP/1.1 request must have a Host header"
                                  : "the request has more than one Host header");
  }
  return {};
}

}  // namespace puff::http
