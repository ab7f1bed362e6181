// One request and its response, as the handler sees it. Every method may be called from any
// thread (the hub): each hops onto the connection's strand. Callbacks run there, once each,
// without any lock held, and must not throw.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/static_files.h"
#include "http/types.h"

namespace puff::http {

namespace detail {
class Connection;
struct ExchangeState;
}  // namespace detail

class Exchange {
 public:
  // Response bytes the connection holds for an exchange beyond what the socket took: a send()
  // within it is done once queued, past it once written.
  static constexpr std::size_t kSendBufferBytes = 64 * 1024;

  Exchange(std::shared_ptr<detail::Connection> connection,
           std::shared_ptr<detail::ExchangeState> state);
  // A response the handler did not finish is ended here: a 500 when nothing was sent yet,
  // else the connection is closed (the client must not take a cut-off body as complete).
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const RequestHead& request() const;

  // Up to `max_bytes` of the request body (at least one byte unless eof or error). The server
  // reads up to body_buffer_bytes ahead before the handler gets the request; beyond that the
  // socket is read only while someone asks: a handler that reads slowly slows the client down.
  // With "Expect: 100-continue", "100 Continue" is sent when that reading starts.
  void read_body(std::size_t max_bytes, BodyCallback done);

  // Queues response bytes: `head` with the first call only; `last` ends the response. The body
  // is framed by the server (Content-Length as the head says, else chunked; nothing for HEAD
  // and 1xx/204/304). `done(true)` once the bytes were written to the socket, or (not `last`)
  // at once when they fit the send buffer; a write that fails later closes the connection.
  void send(std::optional<ResponseHead> head, std::string body, bool last, SendCallback done);

  // Ends the response with `head` and the file segment, sent with sendfile(2) (HEAD: the head
  // only). Content-Length frames it as send() would; without one it goes out chunked.
  void send_file(ResponseHead head, std::shared_ptr<FileSegment> file, SendCallback done);

  // The response cannot be completed (an error after the head went out): close the connection.
  void abort();

  // Any thread: the client closed (or half-closed) its side, or the connection is closed. A
  // request still waiting to run can then be dropped: nobody will read its response.
  bool client_gone() const;

  // Any thread, to tell waiting on the client from work: whether read_body() may wait for the
  // client (the body has not all arrived), and whether send() of `bytes` more would (the bytes
  // not yet written would pass kSendBufferBytes).
  bool body_pending() const;
  bool send_would_wait(std::size_t bytes) const;

 private:
  std::shared_ptr<detail::Connection> connection_;
  std::shared_ptr<detail::ExchangeState> state_;
};

// Called on an IO thread for every request head; must return quickly and not throw.
using Handler = std::function<void(std::shared_ptr<Exchange>)>;

}  // namespace puff::http
