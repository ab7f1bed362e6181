#include "http/exchange.h"

#include "http/detail/connection.h"
#include "http/detail/exchange_state.h"

namespace puff::http {

Exchange::Exchange(std::shared_ptr<detail::Connection> connection,
                   std::shared_ptr<detail::ExchangeState> state)
    : connection_(std::move(connection)), state_(std::move(state)) {}

Exchange::~Exchange() { connection_->released(std::move(state_)); }

const RequestHead& Exchange::request() const { return state_->head; }

void Exchange::read_body(std::size_t max_bytes, BodyCallback done) {
  connection_->read_body(state_, max_bytes, std::move(done));
}

void Exchange::send(std::optional<ResponseHead> head, std::string body, bool last,
                    SendCallback done) {
  connection_->send(state_, std::move(head), std::move(body), last, std::move(done));
}

void Exchange::send_file(ResponseHead head, std::shared_ptr<FileSegment> file,
                         SendCallback done) {
  connection_->send_file(state_, std::move(head), std::move(file), std::move(done));
}

void Exchange::abort() { connection_->abort(state_); }

bool Exchange::client_gone() const { return connection_->client_gone(); }

bool Exchange::body_pending() const { return !state_->body_in.load(std::memory_order_relaxed); }

// As Connection::do_send decides (the unsent bytes only shrink meanwhile: a send this says
// will not wait does not).
bool Exchange::send_would_wait(std::size_t bytes) const {
  return state_->unsent.load(std::memory_order_relaxed) + bytes > kSendBufferBytes;
}

}  // namespace puff::http
