// The PEP 3333 environ of one request: CGI keys from the request head, on top of a base dict
// holding the keys that are the same for every request (wsgi.*, SCRIPT_NAME, SERVER_SOFTWARE).
#pragma once

#include "http/forwarded.h"
#include "http/types.h"
#include "python/pyref.h"

namespace puff::wsgi {

// A new dict (copy of `base` plus the request's keys); empty PyRef with an exception set on
// failure. GIL held.
// REMOTE_ADDR and wsgi.url_scheme come from X-Forwarded-* when the peer is in `proxies`.
python::PyRef build_environ(const http::RequestHead& request, PyObject* base,
                            const http::TrustedProxies& proxies);

}  // namespace puff::wsgi
