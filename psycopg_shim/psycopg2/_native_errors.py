"""The psycopg2 exception for a failure of the native layer (a `_psycopg.NativeError`).

Above `errors` in the import order (psycopg_shim/README.md, "Layers"): a SQLSTATE that has a
class of its own there is raised as that class, else as its PEP 249 class (`_exceptions`).
"""

from psycopg2._exceptions import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    QueryCanceledError,
    dbapi_class_for,
)


def exception_for(sqlstate):
    """The exception class psycopg2 raises for `sqlstate`: its own class in `errors`, else the
    PEP 249 class of its SQLSTATE class."""
    # Imported on the first server error rather than with psycopg2: its ~250 classes cost
    # more to build than the rest of the package.
    from psycopg2 import errors

    try:
        return errors.lookup(sqlstate)
    except KeyError:
        return dbapi_class_for(sqlstate)


# Native failures that carry no SQLSTATE, by kind.
_CLASS_BY_NATIVE_KIND = {
    "connect_failed": OperationalError,
    "query_failed": DatabaseError,
    "connection_lost": OperationalError,
    "timeout": OperationalError,
    "pool_timeout": OperationalError,
    "closed": OperationalError,
    "cancelled": QueryCanceledError,
    "interface": InterfaceError,
    "copy_refused": ProgrammingError,
}
# Kinds that psycopg2 reports from a failed statement (its pq_raise): the exception keeps the
# libpq text as pgerror and its str() drops the leading severity. Other failures are raised
# from a plain message, pgerror None.
_STATEMENT_KINDS = frozenset({"query_failed", "connection_lost"})
_SEVERITY_PREFIXES = ("ERROR:  ", "FATAL:  ", "PANIC:  ")
_SEVERITY_PREFIX_LENGTH = 8


def _copy_refused_message(message):
    # execute() met COPY FROM STDIN / TO STDOUT (the native layer ended it): psycopg2's words.
    if "COPY FROM STDIN" in message:
        return "can't execute COPY FROM: use the copy_from() method instead"
    return "can't execute COPY TO: use the copy_to() method instead"


def _without_severity(message):
    if len(message) > _SEVERITY_PREFIX_LENGTH and message.startswith(_SEVERITY_PREFIXES):
        return message[_SEVERITY_PREFIX_LENGTH:]
    return message


def from_native(native_error, cursor=None):
    """The psycopg2 exception (an instance, not raised) for a `_psycopg.NativeError`."""
    kind = native_error.kind
    message = native_error.message
    sqlstate = native_error.sqlstate
    if kind == "copy_refused":
        message = _copy_refused_message(message)
    # psycopg2 raises connection failures as OperationalError even when the server sent a
    # SQLSTATE (a missing database is not a ProgrammingError at connect time).
    if kind == "connect_failed" or (not sqlstate and kind not in _STATEMENT_KINDS):
        exc = _CLASS_BY_NATIVE_KIND.get(kind, DatabaseError)(message)
    else:
        cls = exception_for(sqlstate) if sqlstate else _CLASS_BY_NATIVE_KIND[kind]
        exc = cls(_without_severity(message))
        exc._pgerror = message
        exc._pgcode = sqlstate or None
        exc._diag_fields = dict(native_error.diag) if native_error.diag else None
    exc._cursor = cursor
    return exc
