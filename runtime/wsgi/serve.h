// `puff runserver`'s Python side: the built-in module _puff_wsgi (the Exchange type, the
// driver, serve()). The CLI hands the settings over before the interpreter starts, loads the
// application with prepare_app() before the hub runs, then runs _puff_wsgi:serve as the main
// task: it listens, hands every request to a new greenlet, and drains on SIGINT/SIGTERM.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "http/accept_balance.h"

namespace puff::wsgi {

struct ServeConfig {
  config::HttpConfig http;
  // "module:attribute" or "module.path.attribute"; empty: Django's get_wsgi_application()
  // (DJANGO_SETTINGS_MODULE must be set).
  std::string app;
  std::string label = "puff runserver";  // starts every line printed
  int listen_fd = -1;  // a worker accepts on its supervisor's socket (see http::ServerOptions)
  int worker = 0;      // this worker's number (1..N) under a supervisor; 0: no supervisor
  std::shared_ptr<http::AcceptBalance> accept_balance;  // shared with the other workers
  int balance_slot = -1;
  int ready_fd = -1;  // a worker writes its pid here once it accepts (for its supervisor)
};

// Before the interpreter starts: registers _puff_wsgi as a built-in module and keeps `config`.
void register_builtin(ServeConfig config);

// Imports the application and the driver (GIL held, hub not running yet). False after printing
// one line (or the application's traceback) on failure.
bool prepare_app();

}  // namespace puff::wsgi
