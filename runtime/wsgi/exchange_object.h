// _puff_wsgi.Exchange: one HTTP request as the WSGI driver (driver.py) sees it. Owns a
// std::shared_ptr<http::Exchange>; read() and send() park the calling greenlet (await_native)
// while the IO threads work. Also counts the requests in progress, for the graceful drain.
#pragma once

#include <memory>

#include "http/exchange.h"
#include "python/pyref.h"
#include "wsgi/admission.h"

namespace puff::wsgi {

// Adds the Exchange type and ClientDisconnected (an OSError) to `module`. Throws
// ErrorAlreadySet.
void add_exchange_type(PyObject* module);

// A new Exchange object for `exchange`; its reads and sends that wait on the client leave
// `slot` meanwhile (see admission.h). GIL held; throws ErrorAlreadySet.
python::PyRef new_exchange_object(std::shared_ptr<http::Exchange> exchange,
                                  std::shared_ptr<AdmissionSlot> slot);

// Requests in flight: exchanges not released (the driver releases each when run() ends, or
// the object goes). Hub thread.
int active_exchanges();

}  // namespace puff::wsgi
