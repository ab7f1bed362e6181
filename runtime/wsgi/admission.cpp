#include "wsgi/admission.h"

#include "core/log.h"

namespace puff::wsgi {

void AdmissionSlot::client_wait_begins() {
  if (!counted_ || finished_) return;
  counted_ = false;
  admission_->slot_freed();
}

void AdmissionSlot::client_wait_ends() {
  if (counted_ || finished_) return;
  counted_ = true;
  ++admission_->active_;
}

void AdmissionSlot::finished() {
  if (finished_) return;
  finished_ = true;
  if (counted_) admission_->slot_freed();
  counted_ = false;
}

void Admission::admit(std::shared_ptr<http::Exchange> exchange) {
  if (closed_) return;
  if (!has_room()) {
    waiting_.push_back(std::move(exchange));
    return;
  }
  start(std::move(exchange));
}

void Admission::start(std::shared_ptr<http::Exchange> exchange) {
  auto slot = std::make_shared<AdmissionSlot>(shared_from_this());
  ++active_;
  if (!launch_(std::move(exchange), slot)) slot->finished();
}

void Admission::slot_freed() {
  --active_;
  while (!closed_ && !waiting_.empty() && has_room()) {
    std::shared_ptr<http::Exchange> next = std::move(waiting_.front());
    waiting_.pop_front();
    if (next->client_gone()) {
      drop_abandoned(*next);
      continue;
    }
    start(std::move(next));
  }
}

// Its client closed the connection while the request waited for a slot (it gave up, e.g. a
// proxy's timeout): running it would only add to the backlog that made it wait. A client
// that half-closes after sending is treated the same, as nginx treats it.
// Logged as a count (when a client gives up, many usually do): at once, then at most every
// 10 s, the rest when the server stops.
void Admission::drop_abandoned(http::Exchange& exchange) {
  exchange.abort();
  ++abandoned_unlogged_;
  auto now = std::chrono::steady_clock::now();
  if (abandoned_logged_at_ && now - *abandoned_logged_at_ < std::chrono::seconds(10)) return;
  abandoned_logged_at_ = now;
  log_abandoned();
}

void Admission::log_abandoned() {
  if (abandoned_unlogged_ == 0) return;
  core::log_info("http: ", abandoned_unlogged_, abandoned_unlogged_ == 1 ? " request" : " requests",
                 " not run: the client closed the connection while the request waited for a "
                 "free slot (max_active_requests)");
  abandoned_unlogged_ = 0;
}

void Admission::close() {
  log_abandoned();
  closed_ = true;
  waiting_.clear();
  launch_ = nullptr;  // it holds the application
}

}  // namespace puff::wsgi
