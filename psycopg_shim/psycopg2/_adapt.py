"""Adaptation of Python objects to SQL literals, as psycopg2 2.9 does it, and `mogrify`.

`adapt(obj)` finds the adapter registered for the object's type (see `adapters`) and returns
an object whose `getquoted()` gives the literal as bytes; `prepare(conn)`, when the adapter
has it, lets it use the connection's encoding and string syntax. `mogrify` puts the literals
of a query's parameters in place of its `%s` / `%(name)s` placeholders.

The bytes are those psycopg2 produces, to the byte. Connections are used through the contract
in psycopg_shim/README.md (`_codec`, `encoding`, `get_parameter_status`, `server_version`).
"""

import datetime as _dt
import decimal as _decimal
import math
import sys

from psycopg2 import _psycopg, _scope
from psycopg2._adapt_datetime import (  # noqa: F401  (the constructors are public here)
    Date,
    DateFromPy,
    DateFromTicks,
    IntervalFromPy,
    Time,
    TimeFromPy,
    TimeFromTicks,
    Timestamp,
    TimestampFromPy,
    TimestampFromTicks,
    quote_date,
    quote_interval,
    quote_time,
    quote_timestamp,
)
from psycopg2._adapt_mogrify import interpolate
from psycopg2._adapt_protocol import (  # noqa: F401  (ISQLQuote, adapt, adapters... are public)
    BaseAdapter,
    ISQLQuote,
    adapt,
    adapters,
    as_double,
    attribute_or_none,
    c_type_name,
    ensure_bytes,
    register_adapter,
)
from psycopg2._exceptions import InterfaceError, OperationalError, ProgrammingError

_EXTENSIONS = "psycopg2.extensions"
_PSYCOPG = "psycopg2._psycopg"  # where psycopg2 keeps the adapters it does not export

_NULL = b"NULL"
_NUL_IN_STRING = "A string literal cannot contain NUL (0x00) characters."


# ---- escaping -------------------------------------------------------------------------------

# Without a connection libpq escapes by the standard_conforming_strings of the last server it
# heard from, doubling backslashes until one said "on": this mirrors that state, updated each
# time a connection's setting is read (a new connection should read it once: see below).
_last_server_standard_strings = False


def server_string_syntax(conn):
    """The connection's standard_conforming_strings ("on", "off" or "" when unknown), also
    remembered for the quoting without connection; call it once a connection is made."""
    global _last_server_standard_strings
    value = conn.get_parameter_status("standard_conforming_strings") or ""
    _last_server_standard_strings = value == "on"
    return value


def _connectionless_string_syntax():
    # Never "off": psycopg2 only writes the E'' syntax when it knows the connection.
    return "on" if _last_server_standard_strings else ""


# Byte tests are written `0x27 in data`: much faster than `b"'" in data` for bytes.
_NUL_BYTE, _QUOTE_BYTE, _BACKSLASH_BYTE, _PERCENT_BYTE = 0x00, 0x27, 0x5C, 0x25


def _quote_text(text, encoding, syntax):
    data = text.encode(encoding)
    if _NUL_BYTE in data:
        raise ValueError(_NUL_IN_STRING)
    if _QUOTE_BYTE in data or (syntax != "on" and _BACKSLASH_BYTE in data):
        # Escape characters, not bytes: in some multibyte encodings a byte 0x5c is part of a
        # character (libpq too walks the characters).
        text = text.replace("'", "''")
        if syntax != "on":
            text = text.replace("\\", "\\\\")
        data = text.encode(encoding)
    return (b"E'" if syntax == "off" else b"'") + data + b"'"


def _quote_bytes_as_text(data, syntax):
    if _NUL_BYTE in data:
        raise ValueError(_NUL_IN_STRING)
    data = data.replace(b"'", b"''")
    if syntax != "on":
        data = data.replace(b"\\", b"\\\\")
    return (b"E'" if syntax == "off" else b"'") + data + b"'"


def _bytea_escape_table(standard_strings):
    # libpq's bytea "escape" format, the one it uses when it knows no server (PQescapeBytea).
    backslash = "\\" if standard_strings else "\\\\"
    table = []
    for byte in range(256):
        if byte < 0x20 or byte > 0x7E:
            table.append(("%s%03o" % (backslash, byte)).encode("ascii"))
        elif byte == 0x27:
            table.append(b"''")
        elif byte == 0x5C:
            table.append((backslash * 2).encode("ascii"))
        else:
            table.append(bytes((byte,)))
    return table


_BYTEA_ESCAPES = {True: _bytea_escape_table(True), False: _bytea_escape_table(False)}


def _quote_bytea(data, conn, syntax):
    """`syntax`: the connection's standard_conforming_strings (unused without connection)."""
    if conn is None:
        table = _BYTEA_ESCAPES[_last_server_standard_strings]
        return b"'" + b"".join([table[byte] for byte in data]) + b"'::bytea"
    if conn.server_version < 90000:
        escaped = b"".join([_BYTEA_ESCAPES[syntax == "on"][byte] for byte in data])
    else:
        escaped = (b"\\x" if syntax == "on" else b"\\\\x") + data.hex().encode("ascii")
    return (b"E'" if syntax == "off" else b"'") + escaped + b"'::bytea"


def _with_sign_space(text):
    # A space before a negative number, so that "-%s" can't become a "--" comment.
    return text.encode() if text[:1] != "-" else b" " + text.encode()


# ---- the adapters ---------------------------------------------------------------------------

class AsIs(BaseAdapter):
    """Adapter writing `str(obj)` into the query unquoted (None as NULL)."""

    __module__ = _EXTENSIONS
    __slots__ = ()

    def getquoted(self):
        """The SQL literal, as bytes."""
        if self._wrapped is None:
            return _NULL
        return str(self._wrapped).encode("utf-8")


class QuotedString(BaseAdapter):
    """Adapter of a str (or bytes) as a SQL string literal, escaped for the connection."""

    __module__ = _EXTENSIONS
    __slots__ = ("_buffer", "_conn", "_encoding")

    def __init__(self, wrapped, /):
        self._wrapped = wrapped
        self._buffer = None
        self._conn = None
        self._encoding = "latin1"

    @property
    def buffer(self):
        return self._buffer

    @property
    def encoding(self):
        """The Python codec of the connection once prepared, else the one set (latin1)."""
        if self._conn is not None:
            return _python_encoding(self._conn.encoding)
        return self._encoding

    @encoding.setter
    def encoding(self, value):
        self._encoding = ensure_bytes(value).decode("utf-8")

    def prepare(self, conn):
        """Quote for `conn`: its encoding and its standard_conforming_strings."""
        self._conn = conn

    def getquoted(self):
        """The SQL literal, as bytes."""
        if self._buffer is None:
            self._buffer = self._quote()
        return self._buffer

    def _quote(self):
        wrapped, conn = self._wrapped, self._conn
        if conn is not None:
            syntax = server_string_syntax(conn)
        else:
            syntax = _connectionless_string_syntax()
        if isinstance(wrapped, str):
            encoding = conn._codec if conn is not None else self._encoding
            return _quote_text(wrapped, encoding, syntax)
        if isinstance(wrapped, bytes):
            return _quote_bytes_as_text(wrapped, syntax)
        raise TypeError("can't quote non-string object")


class Binary(BaseAdapter):
    """Adapter of a bytes-like object as a bytea literal (None as NULL)."""

    __module__ = _EXTENSIONS
    __slots__ = ("_buffer", "_conn")

    def __init__(self, wrapped, /):
        self._wrapped = wrapped
        self._buffer = None
        self._conn = None

    @property
    def buffer(self):
        return self._buffer

    def prepare(self, conn):
        """Quote for `conn`: hex format and its standard_conforming_strings."""
        self._conn = conn

    def getquoted(self):
        """The SQL literal, as bytes."""
        if self._buffer is None:
            self._buffer = self._quote()
        return self._buffer

    def _quote(self):
        wrapped = self._wrapped
        if wrapped is None:
            return _NULL
        conn = self._conn
        syntax = server_string_syntax(conn) if conn is not None else None
        return _quote_bytea(_buffer_bytes(wrapped), conn, syntax)


def _buffer_bytes(obj):
    if obj.__class__ is bytes:
        return obj
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError("can't escape %s to binary" % c_type_name(type(obj))) from None
    with view:
        return view.tobytes()


class Boolean(BaseAdapter):
    """Adapter of a truth value as true/false."""

    __module__ = _EXTENSIONS
    __slots__ = ()

    def getquoted(self):
        """The SQL literal, as bytes."""
        return b"true" if self._wrapped else b"false"


def _quote_int(value):
    return _with_sign_space(str(value if value.__class__ is int else int(value)))


class Int(BaseAdapter):
    """Adapter of an integer (int subclasses as their int value)."""

    __module__ = _EXTENSIONS
    __slots__ = ()

    def getquoted(self):
        """The SQL literal, as bytes."""
        return _quote_int(self._wrapped)


def _quote_float(value):
    number = value if value.__class__ is float else as_double(value)
    if math.isnan(number):
        return b"'NaN'::float"
    if math.isinf(number):
        return b"'Infinity'::float" if number > 0 else b"'-Infinity'::float"
    return _with_sign_space(repr(value))


class Float(BaseAdapter):
    """Adapter of a float (NaN and infinities as quoted float literals)."""

    __module__ = _EXTENSIONS
    __slots__ = ()

    def getquoted(self):
        """The SQL literal, as bytes."""
        return _quote_float(self._wrapped)


def _quote_decimal(value):
    try:
        finite = value.is_finite()
    except AttributeError:
        finite = not (value._isnan() or value._isinfinity())
    # psycopg2 writes every non-finite Decimal, infinities included, as NaN.
    if finite is not True:
        return b"'NaN'::numeric"
    return _with_sign_space(str(value))


class _DecimalAdapter(BaseAdapter):
    """Adapter of a decimal.Decimal (any non-finite value as NaN)."""

    __module__ = _PSYCOPG
    __qualname__ = "Decimal"
    __slots__ = ()

    def getquoted(self):
        """The SQL literal, as bytes."""
        return _quote_decimal(self._wrapped)


_DecimalAdapter.__name__ = "Decimal"


def _quote_list(items, context):
    if not items:
        # Not ARRAY[]: that would need a cast to be usable (e.g. in any()).
        return b"'{}'"
    quoted = []
    all_nulls = True
    for item in items:
        if item is None:
            quoted.append(_NULL)
            continue
        literal = context.quote(item)
        if isinstance(item, list):
            if literal[:1] == b"A":
                all_nulls = False
            elif literal == b"'{}'":
                # '{{}}' is not valid but ARRAY[ARRAY[]] is.
                all_nulls = False
                literal = b"ARRAY[]"
        else:
            all_nulls = False
        quoted.append(literal)
    if not all_nulls:
        return b"ARRAY[" + b",".join(quoted) + b"]"
    # ARRAY[NULL, ...] has no type: write the '{NULL,...}' literal, unwrapping nested ones.
    return b"'{" + b",".join([q[1:-1] if q[:1] == b"'" else q for q in quoted]) + b"}'"


class List(BaseAdapter):
    """Adapter of a list as an ARRAY[...] expression (or a '{...}' literal)."""

    __module__ = _PSYCOPG
    __slots__ = ("_conn",)

    def __init__(self, wrapped, /):
        if not isinstance(wrapped, list):
            raise TypeError("List() argument must be a list, not %s" % c_type_name(type(wrapped)))
        self._wrapped = wrapped
        self._conn = None

    def prepare(self, conn):
        """Quote the items for `conn`."""
        self._conn = conn

    def getquoted(self):
        """The SQL literal, as bytes."""
        return _quote_list(self._wrapped, _Context(self._conn))


class SQL_IN:
    """Adapter of a sequence (a tuple by default) as the parenthesised list of `IN (...)`."""

    __module__ = _EXTENSIONS

    def __init__(self, seq):
        self._seq = seq
        self._conn = None

    def prepare(self, conn):
        self._conn = conn

    def getquoted(self):
        # Unlike mogrify, no shortcut for None (NoneAdapter answers) and str results are kept.
        items = [adapt(item) for item in self._seq]
        if self._conn is not None:
            for item in items:
                if hasattr(item, "prepare"):
                    item.prepare(self._conn)
        return b"(" + b", ".join([item.getquoted() for item in items]) + b")"

    def __str__(self):
        return str(self.getquoted())


class NoneAdapter:
    """Adapter of None as NULL.

    mogrify and arrays write NULL for None by themselves; this serves adapt(None), as used for
    the fields of composite types and the items of SQL_IN.
    """

    __module__ = _EXTENSIONS

    def __init__(self, obj):
        pass

    def getquoted(self, _null=_NULL):
        return _null


# ---- identifiers and encodings --------------------------------------------------------------

def quote_ident(ident, scope):
    """`ident` (str or bytes) quoted as a SQL identifier, as text of `scope`'s connection."""
    if _scope.is_cursor(scope):
        conn = scope.connection
    elif _scope.is_connection(scope):
        conn = scope
    else:
        raise TypeError("argument 2 must be a connection or a cursor")
    raw = ensure_bytes(ident)
    if conn.closed == 1:
        raise InterfaceError("connection not valid")
    # libpq reads the name as a C string: it ends at a NUL.
    raw = raw.split(b"\0", 1)[0]
    return (b'"' + raw.replace(b'"', b'""') + b'"').decode(conn._codec)


# PostgreSQL encoding -> Python codec, psycopg2's table; each name also appears in the cleaned
# form (uppercase, no "-" or "_") that the connections look up.
encodings = {
    "ABC": "cp1258", "ALT": "cp866", "BIG5": "big5", "EUC_CN": "euccn",
    "EUC_JIS_2004": "euc_jis_2004", "EUC_JP": "euc_jp", "EUC_KR": "euc_kr",
    "GB18030": "gb18030", "GBK": "gbk", "ISO_8859_1": "iso8859_1", "ISO_8859_2": "iso8859_2",
    "ISO_8859_3": "iso8859_3", "ISO_8859_5": "iso8859_5", "ISO_8859_6": "iso8859_6",
    "ISO_8859_7": "iso8859_7", "ISO_8859_8": "iso8859_8", "ISO_8859_9": "iso8859_9",
    "ISO_8859_10": "iso8859_10", "ISO_8859_13": "iso8859_13", "ISO_8859_14": "iso8859_14",
    "ISO_8859_15": "iso8859_15", "ISO_8859_16": "iso8859_16", "JOHAB": "johab",
    "KOI8": "koi8_r", "KOI8R": "koi8_r", "KOI8U": "koi8_u", "LATIN1": "iso8859_1",
    "LATIN2": "iso8859_2", "LATIN3": "iso8859_3", "LATIN4": "iso8859_4",
    "LATIN5": "iso8859_9", "LATIN6": "iso8859_10", "LATIN7": "iso8859_13",
    "LATIN8": "iso8859_14", "LATIN9": "iso8859_15", "LATIN10": "iso8859_16",
    "Mskanji": "cp932", "ShiftJIS": "cp932", "SHIFT_JIS_2004": "shift_jis_2004",
    "SJIS": "cp932", "SQL_ASCII": "ascii", "TCVN": "cp1258", "TCVN5712": "cp1258",
    "UHC": "cp949", "UNICODE": "utf_8", "UTF8": "utf_8", "VSCII": "cp1258", "WIN": "cp1251",
    "WIN866": "cp866", "WIN874": "cp874", "WIN932": "cp932", "WIN936": "gbk",
    "WIN949": "cp949", "WIN950": "cp950", "WIN1250": "cp1250", "WIN1251": "cp1251",
    "WIN1252": "cp1252", "WIN1253": "cp1253", "WIN1254": "cp1254", "WIN1255": "cp1255",
    "WIN1256": "cp1256", "WIN1257": "cp1257", "WIN1258": "cp1258", "Windows932": "cp932",
    "Windows936": "gbk", "Windows949": "cp949", "Windows950": "cp950",
}
for _name, _codec in list(encodings.items()):
    encodings.setdefault(_name.replace("_", "").replace("-", "").upper(), _codec)
del _name, _codec


def _python_encoding(pg_encoding):
    clean = "".join(char for char in pg_encoding if char.isalnum()).upper()
    try:
        return encodings[clean]
    except KeyError:
        raise OperationalError(
            "no Python encoding for PostgreSQL encoding '%s'" % clean) from None


# ---- the default adapters -------------------------------------------------------------------

for _types, _adapter in (
        ((float,), Float), ((int,), Int), ((bool,), Boolean), ((str,), QuotedString),
        ((bytes, bytearray, memoryview), Binary), ((list,), List),
        ((_dt.date,), DateFromPy), ((_dt.time,), TimeFromPy),
        ((_dt.datetime,), TimestampFromPy), ((_dt.timedelta,), IntervalFromPy),
        ((tuple,), SQL_IN), ((type(None),), NoneAdapter), ((_decimal.Decimal,), _DecimalAdapter)):
    for _type in _types:
        register_adapter(_type, _adapter)
del _types, _adapter, _type


class _Context:
    """Quoting values for one connection (or none), as psycopg2's microprotocol_getquoted:
    adapt, prepare(conn), getquoted(), and a str result encoded."""

    __slots__ = ("conn", "_string_syntax")

    def __init__(self, conn):
        self.conn = conn
        self._string_syntax = None

    def quote(self, value):
        if value is None:
            return _NULL
        cls = type(value)
        direct = _DIRECT_QUOTERS.get(cls)
        if direct is not None and adapters.get((cls, ISQLQuote)) is direct[0]:
            return direct[1](self, value)
        adapted = adapt(value)
        conn = self.conn
        if conn is not None:
            prepare = attribute_or_none(adapted, "prepare")
            if prepare is not None:
                prepare(conn)
        quoted = adapted.getquoted()
        if quoted.__class__ is str:
            quoted = quoted.encode(conn._codec if conn is not None else "utf-8")
        return quoted

    def quote_text(self, text):
        conn = self.conn
        if conn is None:  # as an unprepared QuotedString
            return _quote_text(text, "latin1", _connectionless_string_syntax())
        syntax = self._string_syntax
        if syntax is None:
            syntax = self._string_syntax = server_string_syntax(conn)
        return _quote_text(text, conn._codec, syntax)

    def quote_bytea(self, data):
        conn = self.conn
        if conn is None:
            return _quote_bytea(data, None, None)
        syntax = self._string_syntax
        if syntax is None:
            syntax = self._string_syntax = server_string_syntax(conn)
        return _quote_bytea(data, conn, syntax)


# For the exact types, while their default adapter is registered: the literal computed
# directly, as the adapter would, without building it (this runs for every parameter).
_DIRECT_QUOTERS = {
    str: (QuotedString, _Context.quote_text),
    bytes: (Binary, _Context.quote_bytea),
    bytearray: (Binary, lambda context, value: context.quote_bytea(bytes(value))),
    memoryview: (Binary, lambda context, value: context.quote_bytea(_buffer_bytes(value))),
    int: (Int, lambda context, value: _with_sign_space(str(value))),
    float: (Float, lambda context, value: _quote_float(value)),
    bool: (Boolean, lambda context, value: b"true" if value else b"false"),
    _decimal.Decimal: (_DecimalAdapter, lambda context, value: _quote_decimal(value)),
    _dt.date: (DateFromPy, lambda context, value: quote_date(value)),
    _dt.time: (TimeFromPy, lambda context, value: quote_time(value)),
    _dt.datetime: (TimestampFromPy, lambda context, value: quote_timestamp(value)),
    _dt.timedelta: (IntervalFromPy, lambda context, value: quote_interval(value)),
    list: (List, lambda context, value: _quote_list(value, context)),
}


# ---- interpolation --------------------------------------------------------------------------

def mogrify(query, vars, conn):
    """The query (str, bytes or sql.Composable) as bytes, with the parameters in `vars` (a
    sequence for `%s`, a mapping for `%(name)s`, or None: no interpolation) quoted in place."""
    cls = query.__class__
    if cls is str and query:
        query = query.encode(conn._codec if conn is not None else "utf-8")
    elif cls is not bytes or not query:
        query = _query_bytes(query, conn)
    if vars is None or _PERCENT_BYTE not in query:
        return query
    if conn is not None:
        fast = _mogrify_fast(query, vars, conn)  # the plain cases, in C++
        if fast is not None:
            return fast
    return interpolate(query, vars, _Context(conn).quote)


def _query_bytes(query, conn):
    if not query:
        raise ProgrammingError("can't execute an empty query")
    if isinstance(query, bytes):
        return query
    if isinstance(query, str):
        return query.encode(conn._codec if conn is not None else "utf-8")
    # A Composable can only exist once psycopg2.sql is imported: no need to import it here.
    sql = sys.modules.get("psycopg2.sql")
    if sql is None or not isinstance(query, sql.Composable):
        raise TypeError("argument 1 must be a string or unicode object: got %s instead"
                        % c_type_name(type(query)))
    text = query.as_string(conn)
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        return text.encode(conn._codec if conn is not None else "utf-8")
    raise TypeError("as_string() should return a string: got %s instead"
                    % c_type_name(type(text)))


# The C++ fast path quotes None/bool/int/float/str itself while these default adapters are the
# registered ones (it checks `adapters` on every value, so register_adapter() still wins).
_psycopg.set_quoting(adapters, ISQLQuote, Int, Boolean, Float, QuotedString, server_string_syntax)
_mogrify_fast = _psycopg.mogrify_fast
