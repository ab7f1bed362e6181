"""psycopg2.connect(): opens a connection from a dsn and keyword arguments.

Apart from `_dsn`, which the layers below the connection use (psycopg_shim/README.md, "Layers").
"""

from psycopg2._connection import connection
from psycopg2._dsn import make_dsn


def connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
    """Open a connection: psycopg2.connect()."""
    async_ = kwargs.pop("async", False) or kwargs.pop("async_", False)
    if dsn is None and not kwargs:
        raise TypeError("missing dsn and no parameters")
    dsn = make_dsn(dsn, **kwargs)
    factory = connection_factory or connection
    conn = factory(dsn, async_=async_) if async_ else factory(dsn)
    if cursor_factory is not None:
        conn.cursor_factory = cursor_factory
    return conn
