"""The PEP 249 exception tree as psycopg2 2.9 has it, and the way native failures map onto it.

`errors.py` (generated) adds one subclass per SQLSTATE on top of these classes.
"""

# The classes keep psycopg2's public homes as their module, so tracebacks read
# "psycopg2.OperationalError" and pickle finds them where psycopg2's users would.
_PACKAGE = "psycopg2"
_EXTENSIONS = "psycopg2.extensions"

# The attribute names of psycopg2's Diagnostics, one per libpq PG_DIAG_* field.
DIAGNOSTIC_FIELDS = (
    "column_name",
    "constraint_name",
    "context",
    "datatype_name",
    "internal_position",
    "internal_query",
    "message_detail",
    "message_hint",
    "message_primary",
    "schema_name",
    "severity",
    "severity_nonlocalized",
    "source_file",
    "source_function",
    "source_line",
    "sqlstate",
    "statement_position",
    "table_name",
)


class Warning(Exception):  # noqa: A001 - PEP 249 names it so, shadowing the builtin on purpose
    """A database warning."""

    __module__ = _PACKAGE


class Error(Exception):
    """Base class for error exceptions."""

    __module__ = _PACKAGE
    # Slots rather than instance attributes: they stay read-only from outside, as in psycopg2,
    # and keep the instance __dict__ free for the user.
    __slots__ = ("_pgerror", "_pgcode", "_cursor", "_diag_fields")

    # Set up in __new__ so that subclasses overriding __init__ still get them.
    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls, *args, **kwargs)
        self._pgerror = None
        self._pgcode = None
        self._cursor = None
        self._diag_fields = None
        return self

    @property
    def pgerror(self):
        """The error message returned by the backend, if available, else None."""
        return self._pgerror

    @property
    def pgcode(self):
        """The error code returned by the backend, if available, else None."""
        return self._pgcode

    @property
    def cursor(self):
        """The cursor that raised the exception, if available, else None."""
        return self._cursor

    @property
    def diag(self):
        """A Diagnostics object to get further information about the error."""
        return Diagnostics(self)

    # Pickling keeps the message and the server's code; the cursor cannot travel and the
    # diagnostic fields do not either (psycopg2 keeps them in the libpq result it drops).
    def __reduce__(self):
        state = {}
        if self._pgerror is not None:
            state["pgerror"] = self._pgerror
        if self._pgcode is not None:
            state["pgcode"] = self._pgcode
        return (type(self), self.args, state)

    def __setstate__(self, state):
        if state is None:
            return
        if not isinstance(state, dict):
            raise TypeError("state is not a dictionary")
        self._pgerror = state.get("pgerror")
        self._pgcode = state.get("pgcode")
        self._cursor = None
        self._diag_fields = None


class InterfaceError(Error):
    """Error related to the database interface."""

    __module__ = _PACKAGE


class DatabaseError(Error):
    """Error related to the database engine."""

    __module__ = _PACKAGE


class DataError(DatabaseError):
    """Error related to problems with the processed data."""

    __module__ = _PACKAGE


class OperationalError(DatabaseError):
    """Error related to database operation (disconnect, memory allocation etc)."""

    __module__ = _PACKAGE


class IntegrityError(DatabaseError):
    """Error related to database integrity."""

    __module__ = _PACKAGE


class InternalError(DatabaseError):
    """The database encountered an internal error."""

    __module__ = _PACKAGE


class ProgrammingError(DatabaseError):
    """Error related to database programming (SQL error, table not found etc)."""

    __module__ = _PACKAGE


class NotSupportedError(DatabaseError):
    """A method or database API was used which is not supported by the database."""

    __module__ = _PACKAGE


class QueryCanceledError(OperationalError):
    """Error related to SQL query cancellation."""

    __module__ = _EXTENSIONS


class TransactionRollbackError(OperationalError):
    """Error causing transaction rollback (deadlocks, serialization failures, etc)."""

    __module__ = _EXTENSIONS


class Diagnostics:
    """Details from a database error report (libpq's PQresultErrorField), one attribute per
    field, each a str or None.

    Built from a psycopg2 Error (as `Error.diag` does) or from a dict of field names.
    """

    __module__ = _EXTENSIONS
    __slots__ = ("_fields",)

    def __init__(self, source):
        if isinstance(source, Error):
            fields = source._diag_fields or {}
        elif isinstance(source, dict):
            fields = source
        else:
            raise TypeError("The argument must be a psycopg2.Error")
        self._fields = {name: fields.get(name) for name in DIAGNOSTIC_FIELDS}


def _diagnostic_field(name):
    return property(lambda self: self._fields[name], doc=f"The {name} field, or None.")


for _name in DIAGNOSTIC_FIELDS:
    setattr(Diagnostics, _name, _diagnostic_field(_name))
del _name


# The PEP 249 class psycopg2 picks for a SQLSTATE that has no class of its own in `errors`:
# decided by the SQLSTATE class (two characters), else by its first character.
_DBAPI_CLASS_BY_SQLSTATE_CLASS = {
    "08": OperationalError,  # connection exception
    "0A": NotSupportedError,  # feature not supported
    "20": ProgrammingError,  # case not found
    "21": ProgrammingError,  # cardinality violation
    "22": DataError,  # data exception
    "23": IntegrityError,  # integrity constraint violation
    "24": InternalError,  # invalid cursor state
    "25": InternalError,  # invalid transaction state
    "26": OperationalError,  # invalid SQL statement name
    "27": OperationalError,  # triggered data change violation
    "28": OperationalError,  # invalid authorization specification
    "2B": InternalError,  # dependent privilege descriptors still exist
    "2D": InternalError,  # invalid transaction termination
    "2F": InternalError,  # SQL routine exception
    "34": OperationalError,  # invalid cursor name
    "38": InternalError,  # external routine exception
    "39": InternalError,  # external routine invocation exception
    "3B": InternalError,  # savepoint exception
    "3D": ProgrammingError,  # invalid catalog name
    "3F": ProgrammingError,  # invalid schema name
    "40": TransactionRollbackError,  # transaction rollback
    "42": ProgrammingError,  # syntax error or access rule violation
    "44": ProgrammingError,  # WITH CHECK OPTION violation
}
_DBAPI_CLASS_BY_FIRST_CHARACTER = {
    "5": OperationalError,  # resources, limits, prerequisite state, operator, system
    "F": InternalError,  # configuration file error
    "H": OperationalError,  # foreign data wrapper error
    "P": InternalError,  # PL/pgSQL error
    "X": InternalError,  # internal error
}
_QUERY_CANCELED = "57014"


def dbapi_class_for(sqlstate):
    """The PEP 249 class (one of this module's) that psycopg2 uses for `sqlstate`."""
    if sqlstate == _QUERY_CANCELED:
        return QueryCanceledError
    by_class = _DBAPI_CLASS_BY_SQLSTATE_CLASS.get(sqlstate[:2])
    if by_class is not None:
        return by_class
    return _DBAPI_CLASS_BY_FIRST_CHARACTER.get(sqlstate[:1], DatabaseError)


def exception_for(sqlstate):
    """The exception class psycopg2 raises for `sqlstate`: its own class in `errors`, else the
    PEP 249 class of its SQLSTATE class."""
    # Imported here: errors.py builds on this module's classes.
    from . import errors

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
