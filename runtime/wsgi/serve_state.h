// Shared between module.cpp (which fills it) and serve.cpp (which runs the server).
#pragma once

#include "python/pyref.h"
#include "wsgi/serve.h"

namespace puff::wsgi {

struct Prepared {
  python::PyRef app;           // the WSGI callable
  python::PyRef run;           // _puff_wsgi_driver.run(app, exchange, base_environ)
  python::PyRef base_environ;  // the keys every request shares
};

const ServeConfig& serve_config();
Prepared& prepared();

// _puff_wsgi.serve(): the main task of `puff runserver`.
PyObject* serve(PyObject* module, PyObject*);

}  // namespace puff::wsgi
