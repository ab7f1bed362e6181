// The text printed by `puff example-config`. config_test.cpp loads it and compares it with the
// built-in defaults, so it cannot drift from config.h.
#include "config/config.h"

namespace puff::config {

const char* example_config() {
  return R"toml(# puff.toml: configuration of the puff runtime.
#
# Every key is optional; the values below are the defaults. Environment variables override this
# file (PUFF_IO_THREADS, PUFF_BLOCKING_THREADS, PUFF_WATCHDOG_MS, PUFF_LOG_LEVEL, PUFF_BIND,
# PUFF_WORKERS, PUFF_DJANGO_SETTINGS, PUFF_WSGI, PUFF_<NAME>_POSTGRES_URL, PUFF_<NAME>_REDIS_URL)
# and command-line flags override both. Times are in seconds.

# The project's directory, relative to this file. Relative paths below are resolved against it.
project_dir = "."

# DJANGO_SETTINGS_MODULE for `puff django` and `puff runserver`.
# django_settings = "mysite.settings"
# The WSGI application served by `puff runserver`.
# wsgi = "mysite.wsgi.application"

[runtime]
io_threads = 0          # I/O threads; 0 = one per core but the hub's, at least 1 (0..256)
blocking_threads = 16   # pool behind @puff.blocking and run_blocking (1..1024)
watchdog_ms = 200       # warn when the hub stalls this long; 0 disables the watchdog
log_level = "info"      # debug | info | warning | error

[http]
bind = "127.0.0.1:8000"   # HOST:PORT, [IPv6]:PORT or unix:/absolute/path
workers = 1               # processes (1..256)
reload = false            # restart when Python files change (development)
static = []               # "URL=DIR" mounts, DIR relative to project_dir
# static = ["/static/=static", "/media/=media"]
max_header_bytes = 65536
max_header_fields = 100   # header lines per request; more -> 431 (1..65536)
max_body_bytes = 104857600
body_buffer_bytes = 1048576  # a body is read ahead up to this before the application runs
min_body_rate = 1024      # bytes/s a body must keep up over 10 s, else 408 (0: no floor)
request_timeout = 60.0
keepalive_timeout = 5.0
idle_timeout = 60.0
header_timeout = 10.0     # the whole request head must arrive within this time
graceful_timeout = 30.0   # on SIGTERM / SIGHUP, wait this long for requests in flight
max_connections = 10000
pipeline_depth = 16
max_active_requests = 40  # requests running at once per worker; the rest wait their turn (0: no limit)
access_log = "common"     # common | json | off
trusted_proxies = []      # addresses whose X-Forwarded-* headers are believed, e.g. ["127.0.0.1"]

[services]
dir = ".puff"             # data of `puff services up`, relative to project_dir

# PostgreSQL connection pools, one [[postgres]] per name. "embedded" is the private server of
# `puff services up`; otherwise a postgresql://user:password@host:port/dbname URL or a libpq
# "host=... dbname=..." string. PUFF_<NAME>_POSTGRES_URL overrides url.
# Django: the engine django_puff.db.backends.postgresql gives the DATABASES entry of the same
# alias (or with OPTIONS["pool"] = {"name": "<name>"}) these pool settings; OPTIONS["pool"] keys
# override them, OPTIONS["connect_timeout"] overrides connect_timeout. The connection itself
# (NAME, USER, HOST, ...) still comes from DATABASES.
[[postgres]]
name = "default"
url = "embedded"
min_size = 1                  # opened at the pool's first use and kept
max_size = 10                 # never more server connections than this
acquire_timeout = 10.0        # wait for a free connection, then raise OperationalError
health_check_after = 30.0     # idle longer: checked (empty query) before use; 0 = always
connect_timeout = 10.0        # also bounds a health check's round trip
statement_timeout = 0.0       # per statement, set at connect; QueryCanceled after it; 0 = none
reconnect_backoff_max = 10.0  # retries nobody waits for: 50 ms, doubling up to this

# Redis connection pools, one [[redis]] per name: "embedded",
# redis://[user[:password]@]host[:port][/db], rediss://... (TLS) or
# unix:///path/to/redis.sock?db=N. PUFF_<NAME>_REDIS_URL overrides url.
[[redis]]
name = "default"
url = "embedded"
pool_size = 4
connect_timeout = 5.0
command_timeout = 5.0
reconnect_backoff_max = 10.0

# Project commands, run as `puff <name> [ARGS]` like `puff python`.
# [[commands]]
# name = "load-data"
# function = "myapp.tasks:load_data"
# help = "Load the fixture data"
)toml";
}

}  // namespace puff::config
