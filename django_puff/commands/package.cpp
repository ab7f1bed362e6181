#include "django_puff/commands/package.h"

#include <exception>
#include <vector>

#include "django_puff/redis/native/module.h"

namespace puff::django_puff {
namespace {

// The [[redis]] entries for django_puff.redis, "embedded" resolved now; an entry that cannot
// be resolved carries the reason, raised when someone uses it (not at start: a command that
// never touches Redis must not need it).
std::vector<redis_client::RedisEntry> redis_entries(const cli::PackageContext& context) {
  std::vector<redis_client::RedisEntry> out;
  for (const config::RedisConfig& entry : context.config.redis) {
    redis_client::RedisEntry resolved{entry, ""};
    try {
      resolved.config.url = context.resolve_redis_url(entry);
    } catch (const std::exception& e) {
      resolved.problem = e.what();
    }
    out.push_back(std::move(resolved));
  }
  return out;
}

}  // namespace

cli::Package package() {
  return {.name = "django_puff",
          .register_builtins =
              [](const cli::PackageContext& context) {
                redis_client::register_builtin();
                redis_client::set_redis_config(redis_entries(context));
              },
          .commands = {django_command(), pytest_command(), init_command()}};
}

}  // namespace puff::django_puff
