"""`borrow_db_context(conn)`: Django's ORM on a connection the caller already holds.

Inside the scope, `django.db.connections[using]` (for the current greenlet only: the engine
keeps Django's connections per greenlet) is a fresh DatabaseWrapper whose server connection is
`conn`, a connection of puff's psycopg2 driver, and whose transaction state is conn's: with
conn.autocommit False (psycopg2's default) every ORM statement joins conn's transaction, which
the caller commits or rolls back; transaction.atomic() inside becomes a savepoint. On the way
out, also on an exception, the greenlet's own Django connection comes back untouched, and conn
is neither committed, rolled back nor closed.
"""
import contextlib

from django.db import DEFAULT_DB_ALIAS, connections


class borrow_db_context(contextlib.ContextDecorator):  # noqa: N801 (used like a function)
    def __init__(self, conn, using=DEFAULT_DB_ALIAS):
        import psycopg2.extensions

        if not isinstance(conn, psycopg2.extensions.connection):
            raise TypeError("borrow_db_context() needs a connection of puff's psycopg2 driver, "
                            f"got {type(conn).__name__}")
        if using not in connections.settings:
            raise KeyError(f"borrow_db_context(): no database '{using}' in DATABASES")
        self.conn = conn
        self.using = using
        self._saved = None

    def _recreate_cm(self):
        # As a decorator, each call gets its own scope object: calls may nest or run in
        # several greenlets at once.
        return type(self)(self.conn, self.using)

    def __enter__(self):
        if self.conn.closed:
            raise ValueError("borrow_db_context(): the connection is closed")
        storage = connections._connections
        self._saved = getattr(storage, self.using, None)
        # A new wrapper, not an idle one of the engine's (whose session would be dropped).
        wrapper = type(connections).create_connection(connections, self.using)
        # What connect() would set, minus opening a connection and resetting its session:
        # the connection and its transaction belong to the caller.
        wrapper.connection = self.conn
        wrapper.autocommit = self.conn.autocommit
        # Django closes a connection whose autocommit differs from AUTOCOMMIT at the end of a
        # request, or after errors: here it only lets go of it, and never opens another.
        wrapper._close = _leave_open
        wrapper.connect = _refuse_connecting
        setattr(storage, self.using, wrapper)
        return wrapper

    def __exit__(self, *exc_info):
        storage = connections._connections
        getattr(storage, self.using).connection = None  # the caller's: never closed by Django
        if self._saved is None:
            delattr(storage, self.using)
        else:
            setattr(storage, self.using, self._saved)
        self._saved = None
        return False


def _leave_open():
    pass


def _refuse_connecting():
    from django.db import InterfaceError

    raise InterfaceError("borrow_db_context(): Django let go of the borrowed connection (it "
                         "was closed, or closed after an error) and may not open another here")
