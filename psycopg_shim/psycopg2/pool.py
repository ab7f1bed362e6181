"""psycopg2.pool: keyed connection pools (SimpleConnectionPool, ThreadedConnectionPool)."""

import threading

import psycopg2
from psycopg2._constants import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_UNKNOWN


class PoolError(psycopg2.Error):
    pass


class AbstractConnectionPool:
    """Connections handed out by key; up to `minconn` idle ones are kept for reuse.

    The connection arguments are passed to `psycopg2.connect()` for every new connection.
    """

    def __init__(self, minconn, maxconn, *args, **kwargs):
        self.minconn = int(minconn)
        self.maxconn = int(maxconn)
        self.closed = False
        self._args = args
        self._kwargs = kwargs
        self._pool = []     # idle connections
        self._used = {}     # key -> connection handed out
        self._rused = {}    # id(connection) -> key
        self._keys = 0      # last key generated
        for _ in range(self.minconn):
            self._connect()

    def _connect(self, key=None):
        """Open a connection: handed out under `key`, or idle in the pool if key is None."""
        conn = psycopg2.connect(*self._args, **self._kwargs)
        if key is None:
            self._pool.append(conn)
        else:
            self._used[key] = conn
            self._rused[id(conn)] = key
        return conn

    def _getkey(self):
        self._keys += 1
        return self._keys

    def _getconn(self, key=None):
        if self.closed:
            raise PoolError("connection pool is closed")
        if key is None:
            key = self._getkey()
        if key in self._used:
            return self._used[key]
        if not self._pool:
            if len(self._used) == self.maxconn:
                raise PoolError("connection pool exhausted")
            return self._connect(key)
        conn = self._used[key] = self._pool.pop()
        self._rused[id(conn)] = key
        return conn

    def _putconn(self, conn, key=None, close=False):
        if self.closed:
            raise PoolError("connection pool is closed")
        if key is None:
            key = self._rused.get(id(conn))
            if key is None:
                raise PoolError("trying to put unkeyed connection")

        if close or len(self._pool) >= self.minconn:
            conn.close()
        elif not conn.closed:  # a closed connection is just dropped
            status = conn.info.transaction_status
            if status == TRANSACTION_STATUS_UNKNOWN:
                conn.close()  # the server connection is lost
            else:
                if status != TRANSACTION_STATUS_IDLE:
                    conn.rollback()  # back to a clean state before reuse
                self._pool.append(conn)

        # After closeall() another thread may still give a connection back: it is then
        # forgotten only if the pool still knows its key.
        if not self.closed or key in self._used:
            del self._used[key]
            del self._rused[id(conn)]

    def _closeall(self):
        """Close every connection, the ones handed out included, and close the pool."""
        if self.closed:
            raise PoolError("connection pool is closed")
        for conn in self._pool + list(self._used.values()):
            try:
                conn.close()
            except Exception:
                pass
        self.closed = True


class SimpleConnectionPool(AbstractConnectionPool):
    """A pool for a single thread."""

    getconn = AbstractConnectionPool._getconn
    putconn = AbstractConnectionPool._putconn
    closeall = AbstractConnectionPool._closeall


class ThreadedConnectionPool(AbstractConnectionPool):
    """A pool that threads can share: every operation holds a lock."""

    def __init__(self, minconn, maxconn, *args, **kwargs):
        super().__init__(minconn, maxconn, *args, **kwargs)
        self._lock = threading.Lock()

    def getconn(self, key=None):
        with self._lock:
            return self._getconn(key)

    def putconn(self, conn=None, key=None, close=False):
        with self._lock:
            self._putconn(conn, key, close)

    def closeall(self):
        with self._lock:
            self._closeall()
