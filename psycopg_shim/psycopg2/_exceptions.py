"""The PEP 249 exception tree as psycopg2 2.9 has it, and the PEP 249 class of each SQLSTATE.

`errors.py` (generated) adds one subclass per SQLSTATE on top of these classes;
`_native_errors.py`, above both, turns the native layer's failures into them.
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
