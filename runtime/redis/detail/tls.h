// rediss://: a TLS client stream over a connected socket, configured from the URL (the
// server's certificate checked against the system's CAs or ssl_ca_certs, SNI and the host
// name checked, unless ssl_cert_reqs=none). OpenSSL through Boost.Asio.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <string>

#include "redis/url.h"

namespace puff::redis::detail {

struct TlsLayer {
  using Socket = boost::asio::generic::stream_protocol::socket;
  TlsLayer(boost::asio::ssl::context tls_context, Socket socket)
      : context(std::move(tls_context)), stream(std::move(socket), context) {}

  boost::asio::ssl::context context;  // declared first: the stream refers to it
  boost::asio::ssl::stream<Socket> stream;
};

// Takes over the connected `socket`; nullptr with *error set (a CA file that cannot be read,
// a host name OpenSSL rejects for SNI).
std::shared_ptr<TlsLayer> make_tls_layer(const Url& url, TlsLayer::Socket socket,
                                         std::string* error);

// A TLS handshake failure as one line with what to do ("certificate verify failed ...; pass
// ssl_ca_certs=... or ssl_cert_reqs=none").
std::string tls_error(const boost::system::error_code& ec, const Url& url);

}  // namespace puff::redis::detail
