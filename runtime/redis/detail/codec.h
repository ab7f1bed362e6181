// RESP encoding and decoding with hiredis's formatter and reply reader (never its networking).
// Private to the redis component.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.h"

struct redisReader;

namespace puff::redis::detail {

// Appends one command, binary-safe, in RESP to `out`.
void append_command(std::string& out, const std::vector<std::string_view>& args);

// Incremental reply parser: feed() what the socket gave, then next() until it says need_more.
class ReplyReader {
 public:
  enum class Status { reply, need_more, protocol_error };

  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  // false on a protocol error (error() says which).
  bool feed(const char* data, std::size_t size);
  Status next(Reply& out);
  std::string error() const;

 private:
  redisReader* reader_;
};

}  // namespace puff::redis::detail
