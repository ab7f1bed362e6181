// Reads HTTP/1.1 requests from the bytes of one connection, without a socket: the connection
// reads into prepare()/commit(), then asks for the next head and the pieces of its body.
// Heads pass the request rules (request_rules.h) before a body is framed; Beast's parser does
// the rest (request line, fields, chunked decoding), fed by us so that timeouts and
// backpressure stay the connection's. One request at a time, in order: the next head is read
// only once the current body is done.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "http/request_rules.h"
#include "http/types.h"

namespace puff::http {

struct ReaderLimits {
  std::uint64_t max_header_bytes = 64 * 1024;
  std::uint32_t max_header_fields = 100;
  std::uint64_t max_body_bytes = 100 * 1024 * 1024;
};

class RequestReader {
 public:
  // What a read step found: enough to go on, too little yet, or a request to refuse (the
  // connection answers the verdict and reads nothing more).
  enum class Step { ready, need_more, refused };

  struct Head {
    RequestHead head;  // `peer` is the connection's to fill
    bool keep_alive = true;
    bool has_body = false;
  };

  struct BodyPiece {
    std::string data;
    bool done = false;  // the body is complete (data may still hold its last bytes)
  };

  explicit RequestReader(ReaderLimits limits);

  // Input. prepare() is where the next socket read goes (empty when the buffer is full, which
  // the limits turn into a refusal before it matters); commit() takes what arrived.
  boost::asio::mutable_buffer prepare(std::size_t at_most);
  void commit(std::size_t n) { buffer_.commit(n); }
  std::size_t buffered() const { return buffer_.size(); }
  void discard_input() { buffer_.consume(buffer_.size()); }
  // Between requests: give the buffer's memory back (idle keep-alive connections hold none).
  void release_memory() { buffer_.shrink_to_fit(); }

  // The next head. On `refused`, `out.head` has the method and target when they were parsed.
  Step read_head(Head& out, HeadVerdict& refusal);

  // Up to `max` bytes of the current head's body. `need_more`: nothing could be produced from
  // what is buffered. On `refused` the body cannot be read (`refusal.why` says why).
  Step read_body(std::size_t max, BodyPiece& out, HeadVerdict& refusal);
  bool in_body() const { return parser_.has_value() && parser_->is_header_done(); }

  // Forgets the request in progress (the connection gave up on it).
  void abandon() { parser_.reset(); }

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

  void start_message();
  Step parse_head(Head& out, HeadVerdict& refusal);
  void take_head(Head& out) const;

  ReaderLimits limits_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::optional<HeadScanner> scanner_;  // with parser_, while its head arrives
};

}  // namespace puff::http
