// Validation of names, Python paths and addresses, shared by the file loader and the environment.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <vector>

#include "config/detail.h"

namespace puff::config::detail {
namespace {

bool is_identifier(std::string_view part) {
  if (part.empty() || std::isdigit(static_cast<unsigned char>(part[0]))) return false;
  // Bytes >= 0x80 are let through: Python allows non-ASCII identifiers.
  return std::all_of(part.begin(), part.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || u >= 0x80;
  });
}

// "a.b.c" with every part an identifier.
bool is_dotted_path(std::string_view path) {
  if (path.empty()) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = path.find('.', start);
    if (!is_identifier(path.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(std::string_view word, Choices choices) {
  std::string lowered = to_lower(word);
  std::string_view best;
  std::size_t best_distance = 3;  // suggest only within distance 2
  for (std::string_view choice : choices) {
    std::size_t distance = edit_distance(lowered, choice);
    // "warn" for "warning": a prefix of 3+ characters counts as close.
    if (lowered.size() >= 3 && choice.substr(0, lowered.size()) == lowered) distance = 1;
    if (distance < best_distance) {
      best = choice;
      best_distance = distance;
    }
  }
  return best.empty() ? std::string() : "did you mean " + quote(best) + "?";
}

std::string join(Choices items, std::string_view separator) {
  std::string out;
  for (std::string_view item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string check_choice(const std::string& value, Choices choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return "";
  std::string message = quote(value) + " is not allowed; use one of: " + join(choices);
  std::string hint = did_you_mean(value, choices);
  return hint.empty() ? message : message + " (" + hint + ")";
}

std::string check_entry_name(const std::string& name) {
  // Lowercase only, so that the PUFF_<NAME>_..._URL mapping is unambiguous.
  bool ok = !name.empty() && name.size() <= 63 && name[0] >= 'a' && name[0] <= 'z' &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
            });
  if (ok) return "";
  return quote(name) +
         " is not a valid name; use up to 63 lowercase letters, digits, \"_\" and \"-\", "
         "starting with a letter";
}

std::string check_command_name(const std::string& name) {
  // No leading '-': the CLI would take it for an option.
  bool ok = !name.empty() && name[0] != '-' &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
  if (!ok) {
    return quote(name) +
           " is not a valid command name; use lowercase letters, digits and \"-\" "
           "(not first), e.g. \"load-data\"";
  }
  if (std::find(kBuiltinCommands.begin(), kBuiltinCommands.end(), name) !=
      kBuiltinCommands.end()) {
    return quote(name) + " is a built-in command; choose another name (built-ins: " +
           join(kBuiltinCommands) + ")";
  }
  return "";
}

std::string check_function_ref(const std::string& ref) {
  std::size_t colon = ref.find(':');
  if (colon != std::string::npos && ref.find(':', colon + 1) == std::string::npos &&
      is_dotted_path(std::string_view(ref).substr(0, colon)) &&
      is_dotted_path(std::string_view(ref).substr(colon + 1))) {
    return "";
  }
  return quote(ref) + " is not a \"module:function\" reference; e.g. \"myapp.tasks:main\"";
}

std::string check_settings_module(const std::string& dotted) {
  if (is_dotted_path(dotted)) return "";
  return quote(dotted) + " is not a Python module path; use dotted names, e.g. \"mysite.settings\"";
}

std::string check_wsgi_target(const std::string& target) {
  std::size_t colon = target.find(':');
  std::string_view view(target);
  bool ok = colon == std::string::npos
                ? is_dotted_path(view) && view.find('.') != std::string_view::npos
                : is_dotted_path(view.substr(0, colon)) && is_dotted_path(view.substr(colon + 1));
  if (ok) return "";
  return quote(target) +
         " is not a WSGI application path; use \"module.attribute\" or \"module:attribute\", "
         "e.g. \"mysite.wsgi.application\"";
}

std::string check_proxy_address(const std::string& address) {
  std::string host = address;
  int max_prefix = 32;
  std::size_t slash = address.find('/');
  if (slash != std::string::npos) host = address.substr(0, slash);
  unsigned char buffer[16];
  bool ok = false;
  if (inet_pton(AF_INET, host.c_str(), buffer) == 1) {
    ok = true;
  } else if (inet_pton(AF_INET6, host.c_str(), buffer) == 1) {
    ok = true;
    max_prefix = 128;
  }
  if (ok && slash != std::string::npos) {
    std::string_view prefix = std::string_view(address).substr(slash + 1);
    int bits = -1;
    auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
    ok = ec == std::errc() && end == prefix.data() + prefix.size() && !prefix.empty() &&
         bits >= 0 && bits <= max_prefix;
  }
  if (ok) return "";
  return quote(address) +
         " is not an IP address or CIDR range; e.g. \"127.0.0.1\", \"10.0.0.0/8\", \"::1\"";
}

std::string env_name(std::string_view entry_name) {
  std::string out(entry_name);
  for (char& c : out) {
    c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string resolve_path(const std::string& base, const std::string& path) {
  std::filesystem::path resolved(path);
  if (resolved.is_relative()) resolved = std::filesystem::path(base) / resolved;
  std::string out = resolved.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

void ensure_default_entries(Config& config) {
  if (config.find_postgres("default") == nullptr) {
    PostgresConfig entry;
    entry.implicit = true;
    config.postgres.insert(config.postgres.begin(), entry);
  }
  if (config.find_redis("default") == nullptr) {
    RedisConfig entry;
    entry.implicit = true;
    config.redis.insert(config.redis.begin(), entry);
  }
}

}  // namespace puff::config::detail

namespace puff::config {

const PostgresConfig* Config::find_postgres(const std::string& name) const {
  for (const PostgresConfig& entry : postgres) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

const RedisConfig* Config::find_redis(const std::string& name) const {
  for (const RedisConfig& entry : redis) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

std::string check_trusted_proxy(const std::string& address) {
  return detail::check_proxy_address(address);
}

}  // namespace puff::config
