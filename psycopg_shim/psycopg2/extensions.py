"""psycopg2.extensions: the driver's classes, adaptation and typecasting registries."""
# The names are defined in the private modules; this module gathers them as psycopg2 does.

from psycopg2 import _psycopg
from psycopg2._adapt import (  # noqa: F401
    SQL_IN,
    AsIs,
    Binary,
    Boolean,
    DateFromPy,
    Float,
    Int,
    IntervalFromPy,
    ISQLQuote,
    NoneAdapter,
    QuotedString,
    TimeFromPy,
    TimestampFromPy,
    adapt,
    adapters,
    encodings,
    quote_ident,
    register_adapter,
)
from psycopg2._connection import connection  # noqa: F401
from psycopg2._constants import *  # noqa: F401,F403
from psycopg2._cursor import cursor  # noqa: F401
from psycopg2._dsn import make_dsn, parse_dsn  # noqa: F401
from psycopg2._exceptions import (  # noqa: F401
    Diagnostics,
    NotSupportedError,
    QueryCanceledError,
    TransactionRollbackError,
)
from psycopg2._json import register_default_json as _default_json
from psycopg2._json import register_default_jsonb as _default_jsonb
from psycopg2._objects import Column, ConnectionInfo, Notify, Xid  # noqa: F401
from psycopg2._password import encrypt_password  # noqa: F401
from psycopg2._range import Range  # noqa: F401
from psycopg2._typecast import (  # noqa: F401
    BINARYARRAY,
    BOOLEAN,
    BOOLEANARRAY,
    BYTES,
    BYTESARRAY,
    DATE,
    DATEARRAY,
    DATETIMEARRAY,
    DATETIMETZARRAY,
    DECIMAL,
    DECIMALARRAY,
    FLOAT,
    FLOATARRAY,
    INTEGER,
    INTEGERARRAY,
    INTERVAL,
    INTERVALARRAY,
    LONGINTEGER,
    LONGINTEGERARRAY,
    PYDATE,
    PYDATEARRAY,
    PYDATETIME,
    PYDATETIMEARRAY,
    PYDATETIMETZ,
    PYDATETIMETZARRAY,
    PYINTERVAL,
    PYINTERVALARRAY,
    PYTIME,
    PYTIMEARRAY,
    ROWIDARRAY,
    STRINGARRAY,
    TIME,
    TIMEARRAY,
    UNICODE,
    UNICODEARRAY,
    binary_types,
    new_array_type,
    new_type,
    register_type,
    string_types,
)


def libpq_version():
    return _psycopg.libpq_version()


def lobject(*args, **kwargs):
    raise NotSupportedError("large objects are not supported by puff's driver yet")


def get_wait_callback():
    return None


def set_wait_callback(callback):
    # psycogreen & co install one to make psycopg2 cooperate with gevent/eventlet; puff's
    # driver cooperates with puff's hub by itself, so a callback would never be called.
    if callback is not None:
        raise NotSupportedError(
            "set_wait_callback is not needed with puff's driver: inside the puff hub every wait "
            "already lets other greenlets run")


JSON, JSONARRAY = _default_json()
JSONB, JSONBARRAY = _default_jsonb()
