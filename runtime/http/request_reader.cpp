#include "http/request_reader.h"

#include <boost/beast/http/error.hpp>

#include "http/response_head.h"
#include "http/syntax.h"

namespace puff::http {
namespace {

namespace beast_http = boost::beast::http;

constexpr std::size_t kReadChunk = 16 * 1024;
// A chunk-size line (with its extensions) or the trailer section must fit in this much: one
// that never ends would otherwise hold the connection until idle_timeout.
constexpr std::size_t kMaxChunkLineBytes = 16 * 1024;

}  // namespace

RequestReader::RequestReader(ReaderLimits limits)
    : limits_(limits), buffer_(limits.max_header_bytes + kReadChunk) {}

boost::asio::mutable_buffer RequestReader::prepare(std::size_t at_most) {
  std::size_t space = buffer_.max_size() - buffer_.size();
  return buffer_.prepare(space < at_most ? space : at_most);
}

void RequestReader::start_message() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  parser_->body_limit(limits_.max_body_bytes);
  scanner_.emplace(HeadLimits{limits_.max_header_bytes, limits_.max_header_fields});
}

RequestReader::Step RequestReader::read_head(Head& out, HeadVerdict& refusal) {
  if (!parser_) start_message();
  if (buffer_.size() == 0) return Step::need_more;
  Step step = parse_head(out, refusal);
  if (step == Step::refused) parser_.reset();
  return step;
}

RequestReader::Step RequestReader::parse_head(Head& out, HeadVerdict& refusal) {
  std::string_view buffered(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  std::size_t head_end = scanner_->scan(buffered, refusal);
  if (refusal.refused()) return Step::refused;
  if (head_end == 0) return Step::need_more;
  // Exactly the head: the parser stops there (eager off) and the body waits for a reader.
  std::size_t start = scanner_->head_start();
  boost::system::error_code ec;
  std::size_t used = parser_->put(boost::asio::buffer(buffered.data() + start, head_end - start), ec);
  buffer_.consume(start + used);
  if (ec || !parser_->is_header_done()) {
    if (ec == beast_http::error::header_limit) {
      refusal = {431, "Request Header Fields Too Large", "the request head is too large"};
    } else if (ec == beast_http::error::body_limit) {
      refusal = {413, "Payload Too Large", "the request body is larger than max_body_bytes"};
    } else {
      refusal = {400, "Bad Request", "the request head is malformed"};
    }
    return Step::refused;
  }
  take_head(out);
  Framing framing;
  refusal = check_request_framing(out.head, framing);
  if (!refusal.refused() && framing.chunked != parser_->chunked()) {
    refusal = {400, "Bad Request", "the request's framing is ambiguous"};  // belt and braces
  }
  if (refusal.refused()) return Step::refused;
  out.keep_alive = parser_->keep_alive() && !framing.close_after;
  out.has_body = !parser_->is_done();
  if (out.has_body) {
    parser_->eager(true);
  } else {
    parser_.reset();
  }
  return Step::ready;
}

void RequestReader::take_head(Head& out) const {
  const auto& message = parser_->get();
  RequestHead& head = out.head;
  head.method = std::string(message.method_string());
  head.target = std::string(message.target());
  head.version = message.version() == 10 ? 10 : 11;
  head.headers.clear();
  head.headers.reserve(8);
  for (const auto& field : message) {
    head.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  head.content_length.reset();
  if (auto length = parser_->content_length()) head.content_length = *length;
  head.chunked = parser_->chunked();
  head.expects_continue = false;
  for (const Header& header : head.headers) {
    if (head.version == 11 && header_is(header, "Expect") &&
        equals_ignoring_case(header.value, "100-continue")) {
      head.expects_continue = true;
    }
  }
}

RequestReader::Step RequestReader::read_body(std::size_t max, BodyPiece& out,
                                             HeadVerdict& refusal) {
  out.data.assign(max, '\0');
  auto& body = parser_->get().body();
  body.data = out.data.data();
  body.size = out.data.size();
  boost::system::error_code ec = beast_http::error::need_more;
  std::size_t used = 0;
  if (buffer_.size() > 0) {
    used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
  }
  std::size_t produced = max - body.size;
  body.data = nullptr;
  body.size = 0;
  out.data.resize(produced);
  if (ec == beast_http::error::need_buffer || ec == beast_http::error::need_more) ec = {};
  if (!ec && used == 0 && produced == 0 && buffer_.size() >= kMaxChunkLineBytes) {
    refusal = {400, "Bad Request", "a chunk-size line or the trailers are too long"};
  } else if (ec == beast_http::error::body_limit) {
    refusal = {413, "Payload Too Large", "the request body is larger than max_body_bytes"};
  } else if (ec) {
    refusal = {400, "Bad Request", "the request body is not valid chunked encoding"};
  }
  if (refusal.refused()) {
    parser_.reset();
    return Step::refused;
  }
  out.done = parser_->is_done();
  if (out.done) parser_.reset();
  return produced == 0 && !out.done ? Step::need_more : Step::ready;
}

}  // namespace puff::http
