// Which commands may share a pipelined connection. A shared connection interleaves commands of
// many callers, so anything that changes the session for the commands after it (MULTI, SELECT,
// SUBSCRIBE, ...) or holds the connection (BLPOP, WAIT, XREAD BLOCK) needs a dedicated one.
#pragma once

#include <string_view>
#include <vector>

namespace puff::redis {

enum class CommandKind {
  plain,        // safe to pipeline with anyone's commands
  transaction,  // MULTI, EXEC, DISCARD, WATCH, UNWATCH
  blocking,     // BLPOP, BRPOP, BLMOVE, BZPOPMIN, WAIT, XREAD ... BLOCK, ...
  session,      // SELECT, AUTH, HELLO, RESET, QUIT, (P|S)SUBSCRIBE, MONITOR, CLIENT REPLY, ...
};

// Classifies by the command name (case-insensitive) and, where it matters, its arguments.
CommandKind classify_command(const std::vector<std::string_view>& args);

const char* command_kind_name(CommandKind kind);  // "plain", "transaction", ...

}  // namespace puff::redis
