// django_puff._redis: the native half of puff's Redis client (django_puff.redis, also reachable
// as puff.redis) and of the Django cache backend. A built-in module inside puff; an extension
// module built from the same library for plain python.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "python/compat.h"

namespace puff::redis_client {

// A [[redis]] entry as the Python side sees it: its URL resolved ("embedded" -> the running
// service's URL) or, when that failed, `problem` says why and what to do.
struct RedisEntry {
  config::RedisConfig config;
  std::string problem;
};

// Before the interpreter starts (read by redis_config()).
void set_redis_config(std::vector<RedisEntry> entries);

// Registers the built-in module with the interpreter about to start, and puff.redis as
// django_puff.redis.
void register_builtin();

}  // namespace puff::redis_client

extern "C" PyMODINIT_FUNC PyInit__redis();
