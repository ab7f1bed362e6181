// The built-in module _puff_wsgi and what `puff runserver` keeps in it between prepare_app()
// and serve(): the settings, the application, the driver's run() and the base environ.
#include <iostream>

#include "python/entry_point.h"
#include "python/kit/types.h"
#include "python/pyref.h"
#include "wsgi/driver_source.h"
#include "wsgi/exchange_object.h"
#include "wsgi/serve.h"
#include "wsgi/serve_state.h"

#ifndef PUFF_VERSION_STRING
#define PUFF_VERSION_STRING "0"
#endif

namespace puff::wsgi {
namespace {

using python::PyRef;

ServeConfig g_config;
Prepared g_prepared;

PyMethodDef module_methods[] = {
    python::method<serve, METH_NOARGS>(
        "serve", "serve() -> exit code: runs the HTTP server until SIGINT/SIGTERM (puff runserver)."),
    python::method<python::live_objects_dict, METH_NOARGS>(
        "_live_objects", "_live_objects() -> {type name: instances alive} (leak tests)"),
    python::kEndMethods};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_puff_wsgi",
                          "puff's WSGI server (used by `puff runserver`).", -1, module_methods};

PyObject* init_module() {
  PyRef module = python::create_module(module_def);
  add_exchange_type(module.get());
  return module.release();
}

PyObject* init_module_guarded() { return python::guarded<init_module>(); }

// Runs driver.py as the module _puff_wsgi_driver (registered in sys.modules, so tracebacks
// and pickles name it).
PyRef load_driver() {
  PyRef code = PyRef::steal(Py_CompileString(kDriverSource, "<puff wsgi driver>", Py_file_input));
  if (!code) return {};
  PyRef module = PyRef::steal(PyImport_ExecCodeModule("_puff_wsgi_driver", code.get()));
  return module;
}

// "module:attr" or "module.path.attr".
bool split_app(const std::string& spec, std::string* module, std::string* attribute) {
  auto colon = spec.find(':');
  if (colon != std::string::npos) {
    *module = spec.substr(0, colon);
    *attribute = spec.substr(colon + 1);
  } else {
    auto dot = spec.rfind('.');
    if (dot == std::string::npos) return false;
    *module = spec.substr(0, dot);
    *attribute = spec.substr(dot + 1);
  }
  return !module->empty() && !attribute->empty();
}

PyRef base_environ(PyObject* driver) {
  PyRef environ = PyRef::steal(PyDict_New());
  PyRef file_wrapper = PyRef::steal(PyObject_GetAttrString(driver, "FileWrapper"));
  PyObject* errors = PySys_GetObject("stderr");  // borrowed
  if (!environ || !file_wrapper || !errors) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "sys.stderr is missing");
    return {};
  }
  PyRef version = PyRef::steal(Py_BuildValue("(ii)", 1, 0));
  PyRef multiprocess = PyRef::borrow(g_config.http.workers > 1 ? Py_True : Py_False);
  PyRef server_software = PyRef::steal(PyUnicode_FromString("puff/" PUFF_VERSION_STRING));
  PyRef scheme = PyRef::steal(PyUnicode_FromString("http"));
  PyRef empty = PyRef::steal(PyUnicode_FromString(""));
  if (!version || !server_software || !scheme || !empty) return {};
  struct Item {
    const char* key;
    PyObject* value;
  };
  for (const Item& item : {Item{"wsgi.version", version.get()},
                           Item{"wsgi.url_scheme", scheme.get()},
                           Item{"wsgi.errors", errors},
                           Item{"wsgi.multithread", Py_True},
                           Item{"wsgi.multiprocess", multiprocess.get()},
                           Item{"wsgi.run_once", Py_False},
                           Item{"wsgi.file_wrapper", file_wrapper.get()},
                           Item{"wsgi.input_terminated", Py_True},
                           Item{"SCRIPT_NAME", empty.get()},
                           Item{"SERVER_SOFTWARE", server_software.get()}}) {
    if (PyDict_SetItemString(environ.get(), item.key, item.value) < 0) return {};
  }
  return environ;
}

// What the application loaded (modules, settings, URL patterns) lives as long as the process:
// moved out of the collector's generations, a full collection no longer walks it again and
// again. Under the hub it matters more than under threads: the in-flight requests' objects of
// a few hundred greenlets survive the young collections and reach the old generation sooner.
void freeze_loaded_objects() {
  PyRef gc = PyRef::steal(PyImport_ImportModule("gc"));
  PyRef collected = gc ? PyRef::steal(PyObject_CallMethod(gc.get(), "collect", nullptr)) : PyRef();
  PyRef frozen = collected ? PyRef::steal(PyObject_CallMethod(gc.get(), "freeze", nullptr)) : PyRef();
  if (!frozen) PyErr_Clear();  // an optimisation only
}

}  // namespace

void register_builtin(ServeConfig config) {
  g_config = std::move(config);
  PyImport_AppendInittab("_puff_wsgi", &init_module_guarded);
}

const ServeConfig& serve_config() { return g_config; }
Prepared& prepared() { return g_prepared; }

bool prepare_app() {
  const std::string& label = g_config.label;
  PyRef app;
  if (g_config.app.empty()) {
    PyRef factory = python::resolve_callable(label, "django.core.wsgi", "get_wsgi_application");
    if (!factory) return false;
    app = PyRef::steal(PyObject_CallNoArgs(factory.get()));
    if (!app) {
      PyErr_Print();
      return false;
    }
  } else {
    std::string module, attribute;
    if (!split_app(g_config.app, &module, &attribute)) {
      std::cerr << label << ": --wsgi expects MODULE:APP or module.path.app (e.g. "
                << "mysite.wsgi:application), got '" << g_config.app << "'\n";
      return false;
    }
    app = python::resolve_callable(label, module, attribute);
    if (!app) return false;
  }
  PyRef driver = load_driver();
  PyRef run = driver ? PyRef::steal(PyObject_GetAttrString(driver.get(), "run")) : PyRef();
  PyRef environ = driver ? base_environ(driver.get()) : PyRef();
  if (!run || !environ) {
    PyErr_Print();
    return false;
  }
  g_prepared = {std::move(app), std::move(run), std::move(environ)};
  freeze_loaded_objects();
  return true;
}

}  // namespace puff::wsgi
