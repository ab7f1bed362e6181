// The rules a request head passes before the server frames a body or runs anything. A front
// proxy and puff must agree on where each request ends, or one connection carries a request
// the proxy never saw (request smuggling): so framing is read strictly, per RFC 9112 §6, and
// whatever two readers could disagree on is refused rather than guessed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/types.h"

namespace puff::http {

struct HeadLimits {
  std::uint64_t max_bytes = 64 * 1024;  // request line + fields + the empty line
  std::uint32_t max_fields = 100;       // field lines
};

// A refused head: the status to answer with (400, 431, 501) and one line saying why.
// status == 0: the head passed.
struct HeadVerdict {
  int status = 0;
  std::string_view reason;  // the status's reason phrase
  std::string_view why;

  bool refused() const { return status != 0; }
};

// Finds the end of a head in bytes that arrive in pieces, refusing on the way what the parser
// would read differently from other readers (obs-fold, a bare LF) or what is too large (more
// bytes or field lines than the limits), as soon as it shows: a flood of header fields costs
// one pass over its bytes and is refused before it is parsed. Every byte is looked at once.
class HeadScanner {
 public:
  explicit HeadScanner(HeadLimits limits) : limits_(limits) {}

  // `buffered` starts at the head's first byte and holds what arrived so far (more each call).
  // Returns the offset just past the head's empty line once it is in, else 0; a refusal is
  // written to `verdict` (and 0 returned).
  std::size_t scan(std::string_view buffered, HeadVerdict& verdict);
  // Where the request line starts: past the empty lines that may precede it.
  std::size_t head_start() const { return head_start_; }

 private:
  HeadLimits limits_;
  std::size_t scanned_ = 0;     // bytes looked at
  std::size_t line_start_ = 0;  // offset of the line being scanned
  std::size_t head_start_ = 0;
  std::uint32_t lines_ = 0;     // complete lines (the request line included)
};

// What the framing rules decided for a head that passed.
struct Framing {
  bool chunked = false;      // the body is chunked (else Content-Length, else none)
  bool close_after = false;  // answer, then close the connection (HTTP/1.0 with chunked)
};

// The framing and Host rules over the parsed fields (RFC 9112 §3.2, §6.1-§6.3):
// Transfer-Encoding ends in exactly one "chunked" (else 400; other codings 501) and never
// comes with Content-Length; one Content-Length of digits only; HTTP/1.1 has exactly one Host,
// HTTP/1.0 at most one, with a valid value.
HeadVerdict check_request_framing(const RequestHead& head, Framing& framing);

}  // namespace puff::http
