"""The connection and plain cursor that the register_* functions (extras, json, range) read
the catalog with; below all three in the import order (psycopg_shim/README.md, "Layers")."""

from psycopg2._cursor import cursor as _cursor
from psycopg2._exceptions import ProgrammingError


def _solve_conn_curs(conn_or_curs):
    """Return the connection of `conn_or_curs` and a new plain cursor on it."""
    if conn_or_curs is None:
        raise ProgrammingError("no connection or cursor provided")
    conn = conn_or_curs.connection if hasattr(conn_or_curs, 'execute') else conn_or_curs
    # A plain cursor whatever the connection's cursor_factory: rows are read by position.
    return conn, conn.cursor(cursor_factory=_cursor)
