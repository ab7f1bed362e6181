"""Typecasting: PostgreSQL's text output -> Python objects, as psycopg2 2.9 does it.

A TypeCaster is what psycopg2 calls a type object: `caster(value, cursor)` with `value` the
column's text (a str) or None for NULL. The built-in ones carry `native`, the name of their
conversion, so that the row builder can do it in C++ without calling Python.
"""

import decimal
import functools
import re

from psycopg2 import _psycopg, _scope
from psycopg2._exceptions import Error, InterfaceError
from psycopg2._typecast_array import cast_array
from psycopg2._typecast_datetime import (
    cast_date,
    cast_interval,
    cast_time,
    cast_timestamp,
    cast_timestamptz,
)

string_types = {}   # oid -> caster, the global registry (psycopg2.extensions.string_types)
binary_types = {}   # psycopg2 keeps it for binary results, which it never asks for

_BOX_ARRAY_OID = 1020  # box is the one built-in type whose arrays use ';' between elements


class TypeCaster:
    """A typecaster: psycopg2's `psycopg2._psycopg.type` objects.

    It compares equal to the OIDs in `values` (and to casters sharing one of them): the
    DB-API type objects STRING, NUMBER, ... rely on it. Like psycopg2's, it is not hashable.
    """

    __slots__ = ("values", "name", "native", "base", "_cast")
    __hash__ = None

    def __init__(self, values, name, cast, base=None, native=None):
        self.values = values
        self.name = name
        self.native = native
        self.base = base
        self._cast = cast

    def __call__(self, value, cursor):
        if value.__class__ is bytes:  # psycopg2 also takes the undecoded text
            value = value.decode(_codec(cursor))
        return self._cast(value, cursor)

    def __eq__(self, other):
        if isinstance(other, TypeCaster):
            return any(oid in other.values for oid in self.values)
        return int(other) in self.values

    def __repr__(self):
        return "<psycopg2._psycopg.type %r at 0x%x>" % (self.name, id(self))


def new_type(values, name=None, castobj=None, baseobj=None):
    """A caster calling `castobj(value, cursor)` for the given OIDs (value None for NULL)."""
    _check_arg(1, values, tuple, "tuple")
    if name is not None:
        _check_arg(2, name, str, "str")
    return TypeCaster(values, name, castobj if castobj is not None else _no_cast_function,
                      base=baseobj)


def new_array_type(values, name, baseobj):
    """A caster for arrays whose elements `baseobj` casts."""
    _check_arg(1, values, tuple, "tuple")
    _check_arg(2, name, str, "str")
    _check_arg(3, baseobj, TypeCaster, "psycopg2._psycopg.type")
    return _array_caster(values, name, baseobj)


def register_type(obj, scope=None):
    """Registers a caster globally (scope None) or for one connection or cursor."""
    _check_arg(1, obj, TypeCaster, "psycopg2._psycopg.type")
    if scope is None:
        registry = string_types
    else:
        if not (_scope.is_cursor(scope) or _scope.is_connection(scope)):
            raise TypeError("argument 2 must be a connection, cursor or None")
        registry = scope._typecasters
    for oid in obj.values:
        registry[oid] = obj


def lookup(oid, cursor):
    """The caster for a column: the cursor's, the connection's, the global one, else text."""
    if cursor is not None:
        caster = cursor._typecasters.get(oid) or cursor.connection._typecasters.get(oid)
        if caster is not None:
            return caster
    return string_types.get(oid, _DEFAULT)


def _check_arg(position, value, expected, expected_name):
    # Same wording as psycopg2's argument parsing.
    if not isinstance(value, expected):
        raise TypeError("argument %d must be %s, not %s"
                        % (position, expected_name, type(value).__name__))


def _no_cast_function(value, cursor):
    raise Error("internal error: no casting function found")


def _codec(cursor):
    connection = getattr(cursor, "connection", None)
    return getattr(connection, "_codec", "utf-8")


def _array_caster(values, name, base):
    delimiter = ";" if _BOX_ARRAY_OID in values else ","
    return TypeCaster(values, name, functools.partial(cast_array, base, delimiter), base=base)


# ---- the built-in conversions ------------------------------------------------------------

def _cast_text(value, cursor):
    return value  # already decoded with the connection's codec


def _cast_bytes(value, cursor):
    return value if value is None else value.encode(_codec(cursor))


def _cast_int(value, cursor):
    return value if value is None else int(value)


def _cast_float(value, cursor):
    return value if value is None else float(value)


def _cast_decimal(value, cursor):
    return value if value is None else decimal.Decimal(value)


def _cast_bool(value, cursor):
    if value is None:
        return None
    first = value[:1]
    if first == "t" or first == "T":
        return True
    if first == "f" or first == "F":
        return False
    raise InterfaceError("can't parse boolean: '%s'" % value)


_BYTEA_ESCAPE = re.compile(r"\\([0-3][0-7][0-7]|.)", re.DOTALL)


def _cast_bytea(value, cursor):
    """bytea in the hex ('\\x6162') or the old escape ('ab\\001') format, as a memoryview."""
    if value is None:
        return None
    if value[:2] == "\\x":
        data = bytes.fromhex(value[2:])
    else:
        data = _BYTEA_ESCAPE.sub(_unescape_byte, value).encode("latin-1")
    # psycopg2's memoryview exposes single bytes ('c' format): view[0] == b'a'
    return memoryview(data).cast("c")


def _unescape_byte(match):
    escaped = match.group(1)
    return chr(int(escaped, 8)) if len(escaped) == 3 else escaped


def _builtin(name, values, cast, native=None):
    return TypeCaster(values, name, cast, native=native)


_STRING_OIDS = (19, 18, 25, 1042, 1043)   # name, char, text, bpchar, varchar
_STRING_ARRAY_OIDS = (1002, 1003, 1009, 1014, 1015)

# In psycopg2's order: a later caster takes over the OIDs it shares with an earlier one
# (string_types[25] is STRING, string_types[20] is LONGINTEGER rather than NUMBER).
NUMBER = _builtin("NUMBER", (20, 23, 21, 701, 700, 1700), _cast_float, "float")
LONGINTEGER = _builtin("LONGINTEGER", (20,), _cast_int, "int")
INTEGER = _builtin("INTEGER", (23, 21), _cast_int, "int")
FLOAT = _builtin("FLOAT", (701, 700), _cast_float, "float")
DECIMAL = _builtin("DECIMAL", (1700,), _cast_decimal, "decimal")
UNICODE = _builtin("UNICODE", _STRING_OIDS, _cast_text, "text")
BYTES = _builtin("BYTES", _STRING_OIDS, _cast_bytes)
STRING = _builtin("STRING", _STRING_OIDS, _cast_text, "text")
BOOLEAN = _builtin("BOOLEAN", (16,), _cast_bool, "bool")
DATETIME = _builtin("DATETIME", (1114,), cast_timestamp, "timestamp")
DATETIMETZ = _builtin("DATETIMETZ", (1184,), cast_timestamptz, "timestamptz")
TIME = _builtin("TIME", (1083, 1266), cast_time, "time")
DATE = _builtin("DATE", (1082,), cast_date, "date")
INTERVAL = _builtin("INTERVAL", (704, 1186), cast_interval, "interval")
BINARY = _builtin("BINARY", (17,), _cast_bytea, "bytea")
ROWID = _builtin("ROWID", (26,), _cast_int, "int")
LONGINTEGERARRAY = _array_caster((1016,), "LONGINTEGERARRAY", LONGINTEGER)
INTEGERARRAY = _array_caster((1005, 1006, 1007), "INTEGERARRAY", INTEGER)
FLOATARRAY = _array_caster((1021, 1022), "FLOATARRAY", FLOAT)
DECIMALARRAY = _array_caster((1231,), "DECIMALARRAY", DECIMAL)
UNICODEARRAY = _array_caster(_STRING_ARRAY_OIDS, "UNICODEARRAY", UNICODE)
BYTESARRAY = _array_caster(_STRING_ARRAY_OIDS, "BYTESARRAY", BYTES)
STRINGARRAY = _array_caster(_STRING_ARRAY_OIDS, "STRINGARRAY", STRING)
BOOLEANARRAY = _array_caster((1000,), "BOOLEANARRAY", BOOLEAN)
DATETIMEARRAY = _array_caster((1115,), "DATETIMEARRAY", DATETIME)
DATETIMETZARRAY = _array_caster((1185,), "DATETIMETZARRAY", DATETIMETZ)
TIMEARRAY = _array_caster((1183, 1270), "TIMEARRAY", TIME)
DATEARRAY = _array_caster((1182,), "DATEARRAY", DATE)
INTERVALARRAY = _array_caster((1187,), "INTERVALARRAY", INTERVAL)
BINARYARRAY = _array_caster((1001,), "BINARYARRAY", BINARY)
ROWIDARRAY = _array_caster((1028, 1013), "ROWIDARRAY", ROWID)
UNKNOWN = _builtin("UNKNOWN", (705,), _cast_text, "text")
INETARRAY = _array_caster((1041,), "INETARRAY", STRING)
CIDRARRAY = _array_caster((651,), "CIDRARRAY", STRING)
MACADDRARRAY = _array_caster((1040,), "MACADDRARRAY", STRING)

for _caster in (
        NUMBER, LONGINTEGER, INTEGER, FLOAT, DECIMAL, UNICODE, BYTES, STRING, BOOLEAN, DATETIME,
        DATETIMETZ, TIME, DATE, INTERVAL, BINARY, ROWID, LONGINTEGERARRAY, INTEGERARRAY,
        FLOATARRAY, DECIMALARRAY, UNICODEARRAY, BYTESARRAY, STRINGARRAY, BOOLEANARRAY,
        DATETIMEARRAY, DATETIMETZARRAY, TIMEARRAY, DATEARRAY, INTERVALARRAY, BINARYARRAY,
        ROWIDARRAY, UNKNOWN, INETARRAY, CIDRARRAY, MACADDRARRAY):
    string_types.update(dict.fromkeys(_caster.values, _caster))
del _caster

# Unregistered: used for the OIDs nobody registered.
_DEFAULT = _builtin("DEFAULT", (), _cast_text, "text")

# The same conversions under their original names (psycopg2 keeps them reachable, unregistered).
PYDATETIME = _builtin("PYDATETIME", DATETIME.values, cast_timestamp, "timestamp")
PYDATETIMETZ = _builtin("PYDATETIMETZ", DATETIMETZ.values, cast_timestamptz, "timestamptz")
PYTIME = _builtin("PYTIME", TIME.values, cast_time, "time")
PYDATE = _builtin("PYDATE", DATE.values, cast_date, "date")
PYINTERVAL = _builtin("PYINTERVAL", INTERVAL.values, cast_interval, "interval")
PYDATETIMEARRAY = _array_caster(DATETIMEARRAY.values, "PYDATETIMEARRAY", PYDATETIME)
PYDATETIMETZARRAY = _array_caster(DATETIMETZARRAY.values, "PYDATETIMETZARRAY", PYDATETIMETZ)
PYTIMEARRAY = _array_caster(TIMEARRAY.values, "PYTIMEARRAY", PYTIME)
PYDATEARRAY = _array_caster(DATEARRAY.values, "PYDATEARRAY", PYDATE)
PYINTERVALARRAY = _array_caster(INTERVALARRAY.values, "PYINTERVALARRAY", PYINTERVAL)

# The row builder (C++) looks casters up itself: the global registry, the default, and lookup()
# for cursors and connections that have their own registrations.
_psycopg.set_caster_registry(string_types, _DEFAULT, lookup)
