// How a response goes on the wire: its head (status line, the handler's headers without the
// hop-by-hop ones, Date, the framing the server chose) and its body framed by Content-Length,
// chunks or the close. Pure functions over an exchange's state: the bytes are queued in
// `ex.out`, the connection writes them.
#pragma once

#include <memory>
#include <string>

#include "http/detail/exchange_state.h"
#include "http/types.h"

namespace puff::http::detail {

// Queues the head and chooses the framing: the handler's Content-Length, else chunked
// (HTTP/1.1) or until the close (1.0); no body for HEAD, 1xx, 204, 304. `close`: the
// connection closes after this response. Returns whether it does (the handler's
// `Connection: close`, an unanswered 100-continue or until-close framing force it).
bool frame_head(ExchangeState& ex, const ResponseHead& head, bool close);

// The bytes that carry `body` in the chosen framing (`last` ends the response). A body longer
// than its Content-Length is cut; one that ends short marks the connection to close.
std::string frame_body(ExchangeState& ex, std::string body, bool last);

// Queues a file segment as the rest of the body, framed as frame_body() frames bytes, and marks
// the response finished. `done` rides on the last queued piece.
void frame_file(ExchangeState& ex, std::shared_ptr<FileSegment> file, SendCallback done);

}  // namespace puff::http::detail
