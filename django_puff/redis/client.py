"""Client and Pipeline: commands on a native, process-shared pool (django_puff._redis.Pool).

Commands of every caller are pipelined on the pool's few connections; in the puff hub a
waiting greenlet parks and others run, elsewhere the calling thread blocks (GIL released).
Commands that hold or change a connection (WATCH, blocking pops) get a dedicated one."""
import threading

from django_puff import _redis
from django_puff.redis import config
from django_puff.redis.commands import Commands
from django_puff.redis.exceptions import DataError, ResponseError, WatchError

_clients = {}
_clients_lock = threading.Lock()


def client(name="default"):
    """The client of the [[redis]] entry `name` (inside puff: puff.toml; in plain python: the
    PUFF_<NAME>_REDIS_URL environment variable). One per name per process."""
    with _clients_lock:
        found = _clients.get(name)
    if found is not None:
        return found
    url, options = config.pool_arguments(name)
    made = Client(_redis.Pool(url, name=name, **options))
    with _clients_lock:
        return _clients.setdefault(name, made)


def from_url(url, *, name="default", pool_size=4, connect_timeout=5.0, command_timeout=5.0,
             reconnect_backoff_max=10.0):
    """A client for `url` (redis://[user:password@]host:port/db, unix:///path?db=N). Clients
    with the same settings share one pool."""
    return Client(_redis.Pool(url, name=name, size=pool_size, connect_timeout=connect_timeout,
                              command_timeout=command_timeout,
                              reconnect_backoff_max=reconnect_backoff_max))


def _finish(callback, reply):
    return reply if callback is None else callback(reply)


class Client(Commands):
    def __init__(self, pool):
        self.pool = pool

    def __repr__(self):
        return "<django_puff.redis.Client %s at %s>" % (self.pool.name, self.pool.where)

    def _call(self, callback, *args):
        return _finish(callback, self.pool.execute(*args))

    def pipeline(self, transaction=True):
        """Commands queued and sent in ONE round trip by execute(); with transaction=True
        (the default, as redis-py) wrapped in MULTI/EXEC."""
        return Pipeline(self.pool, transaction)

    def transaction(self, func, *watches, value_from_callable=False, max_attempts=None):
        """Runs func(pipe) with `watches` WATCHed, then EXEC; retries while a watched key
        changed (WatchError) up to max_attempts (None: forever). func reads with the pipe's
        immediate commands before pipe.multi(), queues after it."""
        attempts = 0
        while True:
            attempts += 1
            with self.pipeline(transaction=True) as pipe:
                try:
                    if watches:
                        pipe.watch(*watches)
                    value = func(pipe)
                    result = pipe.execute()
                    return value if value_from_callable else result
                except WatchError:
                    if max_attempts is not None and attempts >= max_attempts:
                        raise

    def scan_iter(self, match=None, count=None, _type=None):
        """Every key (matching `match`) by SCAN: no KEYS-style stall of the server."""
        cursor = None
        while cursor != 0:
            cursor, keys = self.scan(cursor or 0, match=match, count=count, _type=_type)
            yield from keys

    def _blocking(self, command, keys, timeout):
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
            raise DataError("%s timeout must be a non-negative number of seconds" % command)
        with self.pool.dedicated() as connection:
            # The server answers at its timeout; ours waits forever (0) or a little longer.
            return connection.execute(command, *keys, timeout,
                                      timeout=0 if timeout == 0 else timeout + 5.0)

    def blpop(self, keys, timeout=0):
        reply = self._blocking("BLPOP", _keys(keys), timeout)
        return tuple(reply) if reply else None

    def brpop(self, keys, timeout=0):
        reply = self._blocking("BRPOP", _keys(keys), timeout)
        return tuple(reply) if reply else None

    def lock(self, name, timeout=None, sleep=0.1, blocking=True, blocking_timeout=None):
        """A distributed lock (SET NX PX with an owner token; see django_puff.redis.lock)."""
        from django_puff.redis.lock import Lock
        return Lock(self, name, timeout=timeout, sleep=sleep, blocking=blocking,
                    blocking_timeout=blocking_timeout)

    def stats(self):
        return self.pool.stats()


def _keys(keys):
    return [keys] if isinstance(keys, (str, bytes)) else list(keys)


class Pipeline(Commands):
    """Queues commands; execute() sends them in one round trip and returns their values in
    order. After watch(), commands run at once on a dedicated connection until multi()."""

    def __init__(self, pool, transaction):
        self.pool = pool
        self.transaction = transaction
        self._queued = []      # [(args, callback)]
        self._dedicated = None  # set by watch()
        self._explicit_multi = False

    def __len__(self):
        return len(self._queued)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.reset()

    def _call(self, callback, *args):
        if self._dedicated is not None and not self._explicit_multi:
            return _finish(callback, self._dedicated.execute(*args))  # immediate after WATCH
        if not args:
            raise DataError("a command needs a name")
        self._queued.append((args, callback))
        return self

    def watch(self, *names):
        if self._explicit_multi:
            raise RedisUsageError("watch() after multi(): call it before")
        if self._dedicated is None:
            self._dedicated = self.pool.dedicated()
        self._dedicated.execute("WATCH", *names)
        return True

    def unwatch(self):
        if self._dedicated is not None:
            self._dedicated.execute("UNWATCH")
        return True

    def multi(self):
        """After watch(): start queueing the transaction's commands."""
        if self._explicit_multi:
            raise RedisUsageError("multi() called twice")
        if self._queued:
            raise RedisUsageError("multi() must come before the commands it wraps")
        self._explicit_multi = True

    def execute(self, raise_on_error=True):
        queued, self._queued = self._queued, []
        connection = self._dedicated
        try:
            if not queued:
                if connection is not None:
                    connection.execute("UNWATCH")
                return []
            commands = [args for args, _ in queued]
            target = connection if connection is not None else self.pool
            if self.transaction or connection is not None:
                replies = target.execute_many([("MULTI",)] + commands + [("EXEC",)])
                results = self._transaction_results(replies, len(commands))
            else:
                results = target.execute_many(commands)
        finally:
            self._release()
        out = []
        for (args, callback), reply in zip(queued, results, strict=True):
            if isinstance(reply, ResponseError):
                if raise_on_error:
                    reply.add_note("command %d of the pipeline: %s" % (len(out) + 1,
                                                                       _name(args)))
                    raise reply
                out.append(reply)
            else:
                out.append(_finish(callback, reply))
        return out

    @staticmethod
    def _transaction_results(replies, count):
        exec_reply = replies[-1]
        if exec_reply is None:
            raise WatchError("a watched key changed: the transaction did not run")
        if isinstance(exec_reply, ResponseError):  # EXECABORT: a command was rejected
            for queued in replies[1:-1]:
                if isinstance(queued, ResponseError):
                    exec_reply.add_note("first rejected: %s" % queued)
                    break
            raise exec_reply
        if len(exec_reply) != count:
            raise ResponseError("EXEC returned %d results for %d commands"
                                % (len(exec_reply), count))
        return exec_reply

    def reset(self):
        self._queued = []
        if self._dedicated is not None:
            try:
                self._dedicated.execute("UNWATCH")
            except Exception:
                self._dedicated.discard()
        self._release()

    def _release(self):
        if self._dedicated is not None:
            self._dedicated.release()
            self._dedicated = None
        self._explicit_multi = False


def _name(args):
    name = args[0]
    return name.decode("latin-1") if isinstance(name, bytes) else str(name)


class RedisUsageError(DataError):
    """A pipeline used out of order (multi() twice, watch() after multi())."""
