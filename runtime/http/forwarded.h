// X-Forwarded-For / X-Forwarded-Proto, believed only from configured proxies
// (`[http] trusted_proxies`): otherwise any client could claim any address.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "http/types.h"

namespace puff::http {

class TrustedProxies {
 public:
  // Entries are IP addresses or CIDR ranges, already validated by the config
  // ("127.0.0.1", "10.0.0.0/8", "::1"); unparseable ones are skipped.
  explicit TrustedProxies(const std::vector<std::string>& entries = {});
  bool empty() const { return ranges_.empty(); }
  // IPv4-mapped IPv6 addresses ("::ffff:10.0.0.1") count as their IPv4 address.
  bool contains(const std::string& address) const;

 private:
  struct Range {
    std::array<unsigned char, 16> bytes{};
    int bits = 0;  // prefix length over the 16-byte (IPv4-mapped) form
  };
  std::vector<Range> ranges_;
};

struct ClientView {
  std::string remote_addr;  // the client as the proxies saw it
  std::string scheme;       // "http" or "https"
};

// The client address and scheme of `request`: from its X-Forwarded-* headers when the peer is
// a trusted proxy (the rightmost X-Forwarded-For address that is not itself a trusted proxy),
// else the peer's address and "http".
ClientView client_view(const RequestHead& request, const TrustedProxies& proxies);

}  // namespace puff::http
