#include "redis/detail/codec.h"

#include <hiredis/hiredis.h>

#include <new>

namespace puff::redis::detail {
namespace {

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_NIL: break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: break;
  }
  return out;
}

}  // namespace

void append_command(std::string& out, const std::vector<std::string_view>& args) {
  constexpr std::size_t kInline = 16;
  const char* ptrs_inline[kInline];
  std::size_t lens_inline[kInline];
  std::vector<const char*> ptrs_heap;
  std::vector<std::size_t> lens_heap;
  const char** ptrs = ptrs_inline;
  std::size_t* lens = lens_inline;
  if (args.size() > kInline) {
    ptrs_heap.resize(args.size());
    lens_heap.resize(args.size());
    ptrs = ptrs_heap.data();
    lens = lens_heap.data();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    ptrs[i] = args[i].data();
    lens[i] = args[i].size();
  }
  char* command = nullptr;
  int size = redisFormatCommandArgv(&command, static_cast<int>(args.size()), ptrs, lens);
  if (size < 0 || !command) throw std::bad_alloc();
  out.append(command, static_cast<std::size_t>(size));
  redisFreeCommand(command);
}

ReplyReader::ReplyReader() : reader_(redisReaderCreate()) {
  if (!reader_) throw std::bad_alloc();
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

bool ReplyReader::feed(const char* data, std::size_t size) {
  return redisReaderFeed(reader_, data, size) == REDIS_OK;
}

ReplyReader::Status ReplyReader::next(Reply& out) {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return Status::protocol_error;
  if (!raw) return Status::need_more;
  auto* reply = static_cast<redisReply*>(raw);
  out = convert(reply);
  freeReplyObject(reply);
  return Status::reply;
}

std::string ReplyReader::error() const {
  return reader_->err ? std::string(reader_->errstr) : std::string("unknown reader error");
}

}  // namespace puff::redis::detail
