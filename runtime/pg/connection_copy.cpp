// COPY FROM STDIN / TO STDOUT on pg::Connection: copy() and its steps. The statement is sent
// and its other results read as execute() does (connection.cpp); a COPY result hands the turn
// to the caller, who feeds or drains the data one step at a time, each step on the strand and
// answered once. execute() and copy_abort() end COPYs here too, without the caller.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <memory>
#include <utility>

#include "pg/connection.h"
#include "pg/detail/connection_op.h"

namespace puff::pg {
namespace {

// COPY data is handed to libpq in pieces of this size, each flushed before the next, so that
// libpq's output buffer stays small whatever chunk the caller passes.
constexpr std::size_t kCopyPieceBytes = 64 * 1024;

// What execute() sends the server when a statement starts COPY FROM STDIN.
constexpr const char* kCopyInRefusal = "COPY FROM STDIN is not supported by execute(); use copy()";

}  // namespace

void Connection::copy(std::string sql, CopyCallback step) {
  if (busy_.exchange(true)) {
    throw UsageError("pg::Connection::copy called while another operation is in flight");
  }
  auto self = shared_from_this();
  boost::asio::post(strand_, [self, sql = std::move(sql), step = std::move(step)]() mutable {
    self->op_ = std::make_unique<Op>();
    self->op_->copy_mode = true;
    self->op_->on_copy = std::move(step);
    self->start_query(std::move(sql), std::nullopt);
  });
}

void Connection::copy_out_next(CopyCallback step) {
  start_copy_step(
      CopyTurn::copy_out, "copy_out_next",
      [this](CopyTurn) {
        phase_ = Phase::copy_out;
        copy_out_step();
      },
      std::move(step));
}

void Connection::copy_in_put(std::string data, CopyCallback step) {
  auto chunk = std::make_shared<std::string>(std::move(data));  // std::function must copy
  start_copy_step(
      CopyTurn::copy_in, "copy_in_put",
      [this, chunk](CopyTurn) {
        op_->copy_data = std::move(*chunk);
        op_->copy_sent = 0;
        phase_ = Phase::copy_in;
        copy_in_step();
      },
      std::move(step));
}

void Connection::copy_in_end(CopyCallback step) {
  start_copy_step(
      CopyTurn::copy_in, "copy_in_end",
      [this](CopyTurn) {
        op_->copy_ending = true;
        op_->end_reason.reset();
        phase_ = Phase::copy_in;
        copy_in_step();
      },
      std::move(step));
}

void Connection::copy_abort(std::string reason, CopyCallback step) {
  start_copy_step(
      CopyTurn::none, "copy_abort",
      [this, reason = std::move(reason)](CopyTurn claimed) {
        op_->abort_reason = reason;
        if (claimed == CopyTurn::copy_in) {
          op_->copy_ending = true;
          op_->end_reason = reason;
          phase_ = Phase::copy_in;
          copy_in_step();
        } else {
          op_->discard_copy_out = true;
          phase_ = Phase::copy_out;
          copy_out_step();
        }
      },
      std::move(step));
}

// Claims the caller's turn (`expected`, or either for none) and runs `step` on the strand.
void Connection::start_copy_step(CopyTurn expected, const char* call,
                                 std::function<void(CopyTurn claimed)> step, CopyCallback done) {
  CopyTurn turn = copy_turn_.load();
  if (turn == CopyTurn::none || (expected != CopyTurn::none && turn != expected) ||
      !copy_turn_.compare_exchange_strong(turn, CopyTurn::none)) {
    throw UsageError(std::string("pg::Connection::") + call +
                     " called while no COPY step of that kind is pending");
  }
  auto self = shared_from_this();
  boost::asio::post(strand_,
                    [self, turn, step = std::move(step), done = std::move(done)]() mutable {
                      if (self->resume_copy(std::move(done))) step(turn);
                    });
}

// The caller's next step arrived: false when the operation already ended (closed meanwhile)
// and `done` has been answered with that end.
bool Connection::resume_copy(CopyCallback done) {
  if (!op_) {  // not expected: the turn belongs to an operation; answer all the same
    op_ = std::make_unique<Op>();
    op_->copy_mode = true;
    op_->on_copy = std::move(done);
    finish(Error{Error::Kind::closed, "", "the COPY is over; the connection was closed", "", ""});
    return false;
  }
  op_->on_copy = std::move(done);
  if (op_->ended || !conn_) {
    finish(std::nullopt);
    return false;
  }
  return true;
}

// A COPY result arrived: the caller's turn (copy()), or the COPY is ended here.
void Connection::begin_copy(ExecStatusType status) {
  Op& op = *op_;
  const bool caller_drives = op.copy_mode && !op.abort_reason;
  if (!op.copy_mode && !op.outcome.error) {
    op.outcome.error = Error{Error::Kind::copy_refused, "",
                             status == PGRES_COPY_IN
                                 ? "execute() cannot send COPY FROM STDIN data (the COPY was "
                                   "ended with an error): use copy()"
                                 : "execute() cannot return COPY TO STDOUT data (it was read and "
                                   "dropped): use copy()",
                             "", ""};
  }
  if (status == PGRES_COPY_IN) {
    op.copy_data.clear();
    op.copy_sent = 0;
    op.copy_ending = !caller_drives;
    if (!caller_drives) op.end_reason = op.abort_reason ? *op.abort_reason : kCopyInRefusal;
    phase_ = Phase::copy_in;
  } else {
    op.discard_copy_out = !caller_drives;
    op.copy_out_done = false;
    phase_ = Phase::copy_out;
  }
}

// COPY FROM STDIN: queues the caller's chunk piece by piece as the socket takes it, then hands
// the turn back, or sends the end of the data and reads what follows.
void Connection::copy_in_step() {
  Op& op = *op_;
  for (;;) {
    const int flushed = PQflush(conn_);
    if (flushed < 0) return fail_lost("sending COPY data");
    if (flushed == 1) return arm_wait(true);
    if (op.copy_sent < op.copy_data.size()) {
      const std::size_t n = std::min(kCopyPieceBytes, op.copy_data.size() - op.copy_sent);
      const int queued =
          PQputCopyData(conn_, op.copy_data.data() + op.copy_sent, static_cast<int>(n));
      if (queued < 0) return fail_lost("sending COPY data");
      if (queued == 0) return fail_copy_buffer();  // the output buffer was just flushed
      op.copy_sent += n;
      continue;
    }
    std::string().swap(op.copy_data);
    op.copy_sent = 0;
    if (!op.copy_ending) return hand_over_copy(CopyStep::Kind::copy_in);
    const int ended = PQputCopyEnd(conn_, op.end_reason ? op.end_reason->c_str() : nullptr);
    if (ended < 0) return fail_lost("ending COPY data");
    if (ended == 0) return fail_copy_buffer();
    op.copy_ending = false;
    op.end_reason.reset();
    phase_ = Phase::flushing;  // then the COPY's result and the rest of the text
    return flush_step();
  }
}

// COPY TO STDOUT: gathers the rows libpq has into a batch for the caller (or drops them); at the
// end of the data, reads what follows.
void Connection::copy_out_step() {
  Op& op = *op_;
  if (!PQconsumeInput(conn_)) return fail_lost("reading COPY data");
  while (!op.copy_out_done && op.copy_data.size() < kCopyBatchBytes) {
    char* row = nullptr;
    const int n = PQgetCopyData(conn_, &row, 1);
    if (n > 0) {
      if (!op.discard_copy_out) op.copy_data.append(row, static_cast<std::size_t>(n));
      PQfreemem(row);
    } else if (n == 0) {  // no whole row buffered
      if (op.copy_data.empty()) return arm_wait(false);
      break;
    } else if (n == -1) {
      op.copy_out_done = true;
    } else {
      return fail_lost("reading COPY data");
    }
  }
  if (!op.copy_data.empty()) return hand_over_copy(CopyStep::Kind::copy_out);
  op.copy_out_done = false;
  op.discard_copy_out = false;
  phase_ = Phase::reading;
  read_step();
}

// The caller's turn: answers the step in flight with `kind` (and a copy_out batch).
void Connection::hand_over_copy(CopyStep::Kind kind) {
  phase_ = Phase::none;
  update_state();
  CopyStep step;
  step.kind = kind;
  if (kind == CopyStep::Kind::copy_out) step.data = std::exchange(op_->copy_data, std::string());
  CopyCallback done = std::exchange(op_->on_copy, nullptr);
  // Before the callback: it may make the next call at once.
  copy_turn_.store(kind == CopyStep::Kind::copy_in ? CopyTurn::copy_in : CopyTurn::copy_out);
  detail::run_callback([&] { done(std::move(step)); });
}

// libpq refused to queue COPY data into a just-flushed buffer: it could not grow it (out of
// memory). The server still expects data, so the session cannot go on.
void Connection::fail_copy_buffer() {
  Error e = libpq_error(Error::Kind::connection_lost, "could not buffer COPY data");
  e.message += "; the connection was closed";
  close_now();
  finish(e);
}

}  // namespace puff::pg
