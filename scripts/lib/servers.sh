# Throwaway PostgreSQL and Redis servers for tests and benchmarks (sourced by scripts/test and
# scripts/bench). Each lives in a temp dir, listens on 127.0.0.1 on a free port (Postgres also
# on a unix socket in its dir) and is stopped by stop_test_servers, also on failure or Ctrl-C.

free_port() {
  "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bindir() {
  if [ -n "${PUFF_PG_BINDIR:-}" ]; then echo "$PUFF_PG_BINDIR"; return; fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$dir/initdb" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql" >&2; return 1; }
  echo "$dir"
}

# Runs a command as the `postgres` user when we are root (initdb and postgres refuse root).
as_postgres_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_test_postgres() {  # $1: directory to create the cluster in
  local dir=$1 bindir port
  bindir=$(pg_bindir) || return 1
  port=$(free_port)
  mkdir -p "$dir/data" "$dir/run"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
  as_postgres_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C \
    > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  run_test_postgres "$dir" "$port" || return 1
  TEST_PG_DIR=$dir
  TEST_PG_BINDIR=$bindir
  export TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  export TEST_POSTGRES_SOCKET_DIR="$dir/run"
  export TEST_POSTGRES_PORT=$port
}

# Starts the cluster that start_test_postgres made in $1 on port $2 (again, after
# stop_test_postgres: tests that restart the server use both).
run_test_postgres() {
  local dir=$1 port=$2 bindir
  bindir=$(pg_bindir) || return 1
  # Durability off: a throwaway cluster for tests.
  as_postgres_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -o \
    "-p $port -k $dir/run -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c max_prepared_transactions=20" \
    start > /dev/null || { tail -n 20 "$dir/postgres.log" >&2; return 1; }
}

# Stops the cluster in $1 and waits; $2 is pg_ctl's mode (default fast: sessions are told
# "terminating connection due to administrator command", as in a real restart).
stop_test_postgres() {
  local dir=$1 mode=${2:-fast} bindir
  bindir=$(pg_bindir) || return 1
  as_postgres_user "$bindir/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop > /dev/null
}

start_test_redis() {  # $1: directory for its pid and log files
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" > /dev/null ||
    return 1
  for _ in $(seq 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
  done
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG || { tail -n 20 "$dir/redis.log" >&2; return 1; }
  TEST_REDIS_DIR=$dir
  export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  export TEST_REDIS_PORT=$port
}

stop_test_servers() {
  if [ -n "${TEST_PG_DIR:-}" ]; then
    as_postgres_user "$TEST_PG_BINDIR/pg_ctl" -D "$TEST_PG_DIR/data" -m immediate -w stop \
      > /dev/null 2>&1 || true
    TEST_PG_DIR=
  fi
  if [ -n "${TEST_REDIS_DIR:-}" ] && [ -f "$TEST_REDIS_DIR/redis.pid" ]; then
    local pid
    pid=$(cat "$TEST_REDIS_DIR/redis.pid")
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
    TEST_REDIS_DIR=
  fi
}
