#include "redis/commands.h"

#include <algorithm>
#include <array>
#include <string>

namespace puff::redis {
namespace {

// Upper-cased copy of a command name; names longer than any listed one come back empty.
std::string upper(std::string_view name) {
  if (name.size() > 24) return {};
  std::string out(name);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

template <std::size_t N>
bool one_of(const std::string& name, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

constexpr std::array<std::string_view, 5> kTransaction{"MULTI", "EXEC", "DISCARD", "WATCH",
                                                       "UNWATCH"};
constexpr std::array<std::string_view, 10> kBlocking{
    "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT",
    "WAITAOF"};
constexpr std::array<std::string_view, 14> kSession{
    "SELECT", "AUTH", "HELLO", "RESET", "QUIT", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
    "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "READONLY", "READWRITE"};
// CLIENT subcommands that change how the server talks to this connection.
constexpr std::array<std::string_view, 7> kClientSession{
    "REPLY", "TRACKING", "CACHING", "SETNAME", "SETINFO", "NO-EVICT", "NO-TOUCH"};

}  // namespace

CommandKind classify_command(const std::vector<std::string_view>& args) {
  if (args.empty()) return CommandKind::plain;
  const std::string name = upper(args[0]);
  if (one_of(name, kTransaction)) return CommandKind::transaction;
  if (one_of(name, kBlocking)) return CommandKind::blocking;
  if (one_of(name, kSession)) return CommandKind::session;
  if (name == "CLIENT" && args.size() > 1 && one_of(upper(args[1]), kClientSession)) {
    return CommandKind::session;
  }
  if (name == "XREAD" || name == "XREADGROUP") {
    // XREAD [COUNT n] [BLOCK ms] STREAMS ...: options come before STREAMS.
    for (std::size_t i = 1; i < args.size(); ++i) {
      std::string option = upper(args[i]);
      if (option == "STREAMS") break;
      if (option == "BLOCK") return CommandKind::blocking;
    }
  }
  return CommandKind::plain;
}

const char* command_kind_name(CommandKind kind) {
  switch (kind) {
    case CommandKind::plain: return "plain";
    case CommandKind::transaction: return "transaction";
    case CommandKind::blocking: return "blocking";
    case CommandKind::session: return "session";
  }
  return "unknown";
}

}  // namespace puff::redis
