#include "http/forwarded.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>

#include "http/response_head.h"

namespace puff::http {
namespace {

// The address as 16 bytes (IPv4 mapped into ::ffff:0:0/96); false when it is not an address.
bool to_bytes(const std::string& text, std::array<unsigned char, 16>* out, bool* v4) {
  unsigned char v4_bytes[4];
  if (inet_pton(AF_INET, text.c_str(), v4_bytes) == 1) {
    out->fill(0);
    (*out)[10] = 0xff;
    (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, v4_bytes, 4);
    *v4 = true;
    return true;
  }
  *v4 = false;
  return inet_pton(AF_INET6, text.c_str(), out->data()) == 1;
}

std::string trim(std::string text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.erase(0, 1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
  return text;
}

// Every comma-separated value of every header `name`, in order.
std::vector<std::string> list_values(const RequestHead& request, const char* name) {
  std::vector<std::string> values;
  for (const Header& header : request.headers) {
    if (!header_is(header, name)) continue;
    std::size_t start = 0;
    for (;;) {
      std::size_t comma = header.value.find(',', start);
      std::string item = trim(header.value.substr(start, comma == std::string::npos
                                                             ? std::string::npos
                                                             : comma - start));
      if (!item.empty()) values.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return values;
}

}  // namespace

TrustedProxies::TrustedProxies(const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    auto slash = entry.find('/');
    Range range;
    bool v4 = false;
    if (!to_bytes(entry.substr(0, slash), &range.bytes, &v4)) continue;
    int bits = slash == std::string::npos ? (v4 ? 32 : 128)
                                          : std::atoi(entry.c_str() + slash + 1);
    range.bits = v4 ? bits + 96 : bits;
    ranges_.push_back(range);
  }
}

bool TrustedProxies::contains(const std::string& address) const {
  std::array<unsigned char, 16> bytes{};
  bool v4 = false;
  if (!to_bytes(address, &bytes, &v4)) return false;
  for (const Range& range : ranges_) {
    int full = range.bits / 8;
    int rest = range.bits % 8;
    if (std::memcmp(bytes.data(), range.bytes.data(), static_cast<size_t>(full)) != 0) continue;
    if (rest) {
      auto mask = static_cast<unsigned char>(0xff << (8 - rest));
      if ((bytes[full] & mask) != (range.bytes[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

ClientView client_view(const RequestHead& request, const TrustedProxies& proxies) {
  ClientView view{request.peer.remote_addr, "http"};
  if (proxies.empty() || request.peer.unix_socket || !proxies.contains(request.peer.remote_addr)) {
    return view;
  }
  std::vector<std::string> chain = list_values(request, "X-Forwarded-For");
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    view.remote_addr = *it;
    if (!proxies.contains(*it)) break;
  }
  std::vector<std::string> protos = list_values(request, "X-Forwarded-Proto");
  if (!protos.empty()) {
    std::string proto = protos.back();
    for (char& c : proto) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (proto == "https" || proto == "http") view.scheme = proto;
  }
  return view;
}

}  // namespace puff::http
