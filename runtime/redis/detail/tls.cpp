#include "redis/detail/tls.h"

#include <openssl/ssl.h>

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

namespace puff::redis::detail {

std::shared_ptr<TlsLayer> make_tls_layer(const Url& url, TlsLayer::Socket socket,
                                         std::string* error) {
  namespace ssl = boost::asio::ssl;
  ssl::context context(ssl::context::tls_client);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                      ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (url.tls_verify) {
    context.set_verify_mode(ssl::verify_peer, ec);
    if (!ec) {
      if (url.tls_ca_file.empty()) {
        context.set_default_verify_paths(ec);
      } else {
        context.load_verify_file(url.tls_ca_file, ec);
      }
    }
    if (ec) {
      *error = "cannot load the CA certificates" +
               (url.tls_ca_file.empty() ? std::string() : " of '" + url.tls_ca_file + "'") +
               ": " + ec.message() + "; check ssl_ca_certs";
      return nullptr;
    }
    context.set_verify_callback(ssl::host_name_verification(url.host));
  } else {
    context.set_verify_mode(ssl::verify_none);
  }
  auto layer = std::make_shared<TlsLayer>(std::move(context), std::move(socket));
  // SNI: servers behind a TLS proxy pick the certificate by name (not for IP addresses).
  if (url.host.find_first_not_of("0123456789.:") != std::string::npos &&
      !SSL_set_tlsext_host_name(layer->stream.native_handle(), url.host.c_str())) {
    *error = "cannot set the TLS server name '" + url.host + "'";
    return nullptr;
  }
  return layer;
}

std::string tls_error(const boost::system::error_code& ec, const Url& url) {
  std::string what = ec.message();
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    char text[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), text, sizeof text);
    what = text;
  }
  std::string hint = "; is the server's port a TLS port (tls-port)?";
  if (what.find("certificate verify failed") != std::string::npos) {
    hint = url.tls_verify
               ? "; pass ssl_ca_certs=/path/to/ca.pem (the CA that signed the server's "
                 "certificate) or, for testing only, ssl_cert_reqs=none"
               : "";
  }
  return "TLS handshake failed: " + what + hint;
}

}  // namespace puff::redis::detail
