#include "wsgi/environ.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/target.h"

namespace puff::wsgi {
namespace {

using python::PyRef;

// PEP 3333: every value is a native str holding the bytes as latin-1.
PyRef latin1(std::string_view bytes) {
  return PyRef::steal(
      PyUnicode_DecodeLatin1(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), nullptr));
}

bool set(PyObject* dict, const char* key, std::string_view value) {
  PyRef text = latin1(value);
  return text && PyDict_SetItemString(dict, key, text.get()) == 0;
}

// "Accept-Language" -> "HTTP_ACCEPT_LANGUAGE"; Content-Type/-Length lose the prefix (CGI).
std::string cgi_key(const std::string& name) {
  std::string key;
  key.reserve(name.size() + 5);
  auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; };
  std::string plain;
  plain.reserve(name.size());
  for (char c : name) plain += c == '-' ? '_' : upper(c);
  if (plain == "CONTENT_TYPE" || plain == "CONTENT_LENGTH") return plain;
  return "HTTP_" + plain;
}

}  // namespace

PyRef build_environ(const http::RequestHead& request, PyObject* base,
                    const http::TrustedProxies& proxies) {
  PyRef environ = PyRef::steal(PyDict_Copy(base));
  if (!environ) return {};
  PyObject* d = environ.get();
  http::SplitTarget target = http::split_target(request.target);
  const http::Peer& peer = request.peer;
  std::string server_port = peer.unix_socket ? "80" : std::to_string(peer.local_port);
  if (!set(d, "REQUEST_METHOD", request.method) ||
      !set(d, "PATH_INFO", http::percent_decode(target.path)) ||
      !set(d, "QUERY_STRING", target.query) || !set(d, "RAW_URI", request.target) ||
      !set(d, "REQUEST_URI", request.target) ||
      !set(d, "SERVER_PROTOCOL", request.version == 10 ? "HTTP/1.0" : "HTTP/1.1") ||
      !set(d, "SERVER_NAME", peer.unix_socket ? "localhost" : peer.local_addr) ||
      !set(d, "SERVER_PORT", server_port) ||
      !set(d, "REMOTE_PORT", peer.unix_socket ? "" : std::to_string(peer.remote_port))) {
    return {};
  }
  if (proxies.empty()) {
    if (!set(d, "REMOTE_ADDR", peer.remote_addr)) return {};
  } else {
    http::ClientView client = http::client_view(request, proxies);
    if (!set(d, "REMOTE_ADDR", client.remote_addr) || !set(d, "wsgi.url_scheme", client.scheme)) {
      return {};
    }
  }
  // Repeated headers are joined into one value (", ", or "; " for Cookie, RFC 6265), in
  // linear time: a head of many distinct names must not cost the hub quadratic work.
  std::unordered_map<std::string, std::size_t> index;  // CGI key -> its place in `joined`
  index.reserve(request.headers.size());
  std::vector<std::pair<const std::string*, std::string>> joined;  // keys live in `index`
  joined.reserve(request.headers.size());
  for (const http::Header& header : request.headers) {
    // A name with '_' would collide with its '-' twin after the CGI mapping
    // (X_Forwarded_For vs X-Forwarded-For): such headers are dropped, as gunicorn does.
    if (header.name.find('_') != std::string::npos) continue;
    auto [at, inserted] = index.try_emplace(cgi_key(header.name), joined.size());
    if (inserted) {
      joined.emplace_back(&at->first, header.value);
    } else {
      std::string& value = joined[at->second].second;
      value += at->first == "HTTP_COOKIE" ? "; " : ", ";
      value += header.value;
    }
  }
  for (const auto& [key, value] : joined) {
    if (!set(d, key->c_str(), value)) return {};
  }
  return environ;
}

}  // namespace puff::wsgi
