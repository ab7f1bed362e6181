"""Adapters and typecasters for uuid, inet, hstore and composite types (psycopg2.extras)."""

import contextlib
import re
import uuid
import warnings
from collections import namedtuple

# register_uuid/register_inet publish their casters there, as psycopg2 does.
from psycopg2 import extensions as _ext
from psycopg2._adapt import ISQLQuote, adapt, register_adapter
from psycopg2._catalog import _solve_conn_curs
from psycopg2._constants import STATUS_IN_TRANSACTION
from psycopg2._exceptions import DataError, InterfaceError, ProgrammingError
from psycopg2._extras_rows import _re_clean
from psycopg2._typecast import lookup, new_array_type, new_type, register_type

UUID_OID, UUID_ARRAY_OID = 2950, 2951
INET_OID, INET_ARRAY_OID = 869, 1041


def _scope(conn_or_curs, globally):
    """Where register_hstore/register_composite register their casters (None: globally)."""
    return None if globally else (conn_or_curs or None)


def _type_and_array_oids(oids, default_oid, default_array_oid):
    """Read register_uuid/register_inet's `oids`: none, one oid, or (oid, array oid)."""
    if not oids:
        return default_oid, default_array_oid
    if isinstance(oids, (list, tuple)):
        oid, array_oid = oids
        return oid, array_oid
    return oids, default_array_oid


class UUID_adapter:
    """Adapts a `uuid.UUID` to a PostgreSQL uuid literal."""

    def __init__(self, uuid):
        self._uuid = uuid

    def __conform__(self, proto):
        if proto is ISQLQuote:
            return self

    def getquoted(self):
        return str(self).encode('utf8')

    def __str__(self):
        return f"'{self._uuid}'::uuid"


def _cast_uuid(value, cursor):
    return uuid.UUID(value) if value else None


def register_uuid(oids=None, conn_or_curs=None):
    """Cast uuid and uuid[] to `uuid.UUID` and adapt `uuid.UUID` back.

    `oids`: the uuid type's oid, or (uuid oid, uuid[] oid); by default PostgreSQL's.
    `conn_or_curs`: where to register the typecasters; by default globally.
    Returns the uuid typecaster (also published as `psycopg2.extensions.UUID`).
    """
    oid, array_oid = _type_and_array_oids(oids, UUID_OID, UUID_ARRAY_OID)
    _ext.UUID = new_type((oid,), "UUID", _cast_uuid)
    _ext.UUIDARRAY = new_array_type((array_oid,), "UUID[]", _ext.UUID)
    register_type(_ext.UUID, conn_or_curs)
    register_type(_ext.UUIDARRAY, conn_or_curs)
    register_adapter(uuid.UUID, UUID_adapter)
    return _ext.UUID


class Inet:
    """Wraps an inet value given as a string, quoted as `'...'::inet`.

    The value is not validated, but it is adapted as a string, so it cannot inject SQL.
    """

    def __init__(self, addr):
        self.addr = addr

    def __repr__(self):
        return f"{self.__class__.__name__}({self.addr!r})"

    def prepare(self, conn):
        self._conn = conn

    def getquoted(self):
        adapted = adapt(self.addr)
        if hasattr(adapted, 'prepare'):
            adapted.prepare(self._conn)
        return adapted.getquoted() + b"::inet"

    def __conform__(self, proto):
        if proto is ISQLQuote:
            return self

    def __str__(self):
        return str(self.addr)


def _cast_inet(value, cursor):
    return Inet(value) if value else None


def register_inet(oid=None, conn_or_curs=None):
    """Cast inet and inet[] to `Inet` (deprecated, as in psycopg2).

    `oid`: the inet type's oid, or (inet oid, inet[] oid); by default PostgreSQL's.
    `conn_or_curs`: where to register the typecasters; by default globally.
    Returns the inet typecaster (also published as `psycopg2.extensions.INET`).
    """
    warnings.warn("the inet adapter is deprecated, it's not very useful", DeprecationWarning,
                  stacklevel=1)  # psycopg2's: the warning points at this line
    oid, array_oid = _type_and_array_oids(oid, INET_OID, INET_ARRAY_OID)
    _ext.INET = new_type((oid,), "INET", _cast_inet)
    _ext.INETARRAY = new_array_type((array_oid,), "INETARRAY", _ext.INET)
    register_type(_ext.INET, conn_or_curs)
    register_type(_ext.INETARRAY, conn_or_curs)
    return _ext.INET


@contextlib.contextmanager
def _catalog_lookup(conn_or_curs):
    """Yield (connection, cursor) to query the catalog with.

    If the queries opened the transaction, it is rolled back afterwards so the
    connection is left idle as it was found.
    """
    conn, curs = _solve_conn_curs(conn_or_curs)
    status_before = conn.status
    yield conn, curs
    if status_before != STATUS_IN_TRANSACTION and not conn.autocommit:
        conn.rollback()


def _typarray_column(conn):
    # pg_type.typarray appeared in PostgreSQL 8.3.
    return "typarray" if conn.server_version >= 80300 else "NULL"


def _prepared_quote(obj, conn):
    adapted = adapt(obj)
    if hasattr(adapted, 'prepare'):
        adapted.prepare(conn)
    return adapted.getquoted()


# One key => value pair of hstore's text output and the separator after it.
_hstore_string = r'"((?:[^"\\]|\\.)*)"'
_hstore_pair = re.compile(_hstore_string + r'\s*=>\s*(?:NULL|' + _hstore_string + r')(?:\s*,\s*|$)')
_hstore_escape = re.compile(r'\\(.)')


class HstoreAdapter:
    """Adapts a dict to an hstore value; parses hstore's text output (`parse`)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped

    def prepare(self, conn):
        self.conn = conn

    def getquoted(self):
        if not self.wrapped:
            return b"''::hstore"
        if self.conn.server_version < 90000:
            return self._getquoted_8()
        return self._getquoted_9()

    def _getquoted_8(self):
        """The dict as `(k => v)` pairs joined by `||`, for servers before 9.0."""
        pairs = []
        for key, value in self.wrapped.items():
            quoted_value = b'NULL' if value is None else _prepared_quote(value, self.conn)
            pairs.append(b"(" + _prepared_quote(key, self.conn) + b" => " + quoted_value + b")")
        return b"(" + b'||'.join(pairs) + b")"

    def _getquoted_9(self):
        """The dict as `hstore(keys array, values array)`."""
        keys = _prepared_quote(list(self.wrapped.keys()), self.conn)
        values = _prepared_quote(list(self.wrapped.values()), self.conn)
        return b"hstore(" + keys + b", " + values + b")"

    @classmethod
    def parse(cls, s, cur):
        """Return the dict for hstore text such as `"a"=>"1", "b"=>NULL` (None for None)."""
        if s is None:
            return None
        result = {}
        position = 0
        for pair in _hstore_pair.finditer(s):
            if pair.start() != position:
                raise InterfaceError(f"error parsing hstore pair at char {position}")
            key, value = pair.group(1, 2)
            result[_hstore_escape.sub(r'\1', key)] = (
                None if value is None else _hstore_escape.sub(r'\1', value))
            position = pair.end()
        if position < len(s):
            raise InterfaceError(f"error parsing hstore: unparsed data after char {position}")
        return result

    @classmethod
    def parse_unicode(cls, s, cur):
        """Like `parse`; also accepts bytes, decoded with the connection's encoding."""
        if isinstance(s, bytes):
            s = s.decode(cur.connection._codec)
        return cls.parse(s, cur)

    @classmethod
    def get_oids(cls, conn_or_curs):
        """Return (hstore oids, hstore[] oids), one per schema holding an hstore type."""
        with _catalog_lookup(conn_or_curs) as (conn, curs):
            curs.execute(
                f"SELECT t.oid, {_typarray_column(conn)}"
                " FROM pg_type t JOIN pg_namespace ns ON t.typnamespace = ns.oid"
                " WHERE t.typname = 'hstore'")
            rows = list(curs)
        return tuple(row[0] for row in rows), tuple(row[1] for row in rows)


def register_hstore(conn_or_curs, globally=False, unicode=False, oid=None, array_oid=None):
    """Cast hstore (and hstore[]) to dicts and adapt dicts to hstore.

    The oids are looked up through `conn_or_curs` unless `oid` is given (an int or a
    sequence of ints; `array_oid` likewise). The casters are registered on
    `conn_or_curs`, or everywhere if `globally`; the dict adapter is always global.
    `unicode` is accepted for compatibility: values are always str.
    Raises ProgrammingError if the database has no hstore type.
    """
    if oid is None:
        oid, array_oid = HstoreAdapter.get_oids(conn_or_curs)
        if not oid:
            raise ProgrammingError(
                "hstore type not found in the database. "
                "please install it from your 'contrib/hstore.sql' file")
    if isinstance(oid, int):
        oid = (oid,)
    if isinstance(array_oid, int):
        array_oid = (array_oid,)
    elif array_oid is not None:
        array_oid = tuple(value for value in array_oid if value)

    scope = _scope(conn_or_curs, globally)
    hstore_caster = new_type(oid, "HSTORE", HstoreAdapter.parse)
    register_type(hstore_caster, scope)
    register_adapter(dict, HstoreAdapter)
    if array_oid:
        register_type(new_array_type(array_oid, "HSTOREARRAY", hstore_caster), scope)


# The fields of a composite value's text output, such as `(1,"a ""b""",)`: an empty
# field is NULL, a quoted one has its quotes and backslashes doubled.
_composite_field = re.compile(
    r'\(?([,)])'
    r'|\(?"((?:[^"]|"")*)"[,)]'
    r'|\(?([^",)]+)[,)]')
_composite_doubled = re.compile(r'(["\\])\1')

_COMPOSITE_ATTRIBUTES_SQL = """\
SELECT t.oid, {typarray}, a.attname, a.atttypid{extra_columns}
FROM pg_type t
JOIN pg_namespace ns ON t.typnamespace = ns.oid
JOIN pg_attribute a ON a.attrelid = t.typrelid
WHERE {condition}
    AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


class CompositeCaster:
    """Casts a PostgreSQL composite type to a namedtuple (override `make` to change it).

    Usually built by `register_composite()`; build one directly to avoid querying the
    catalog. `attrs` is a sequence of (attribute name, type oid).
    """

    def __init__(self, name, oid, attrs, array_oid=None, schema=None):
        self.name = name
        self.schema = schema
        self.oid = oid
        self.array_oid = array_oid
        self.attnames = [attr[0] for attr in attrs]
        self.atttypes = [attr[1] for attr in attrs]
        self._create_type(name, self.attnames)
        self.typecaster = new_type((oid,), name, self.parse)
        self.array_typecaster = (
            new_array_type((array_oid,), f"{name}ARRAY", self.typecaster) if array_oid else None)

    def parse(self, s, curs):
        if s is None:
            return None
        tokens = self.tokenize(s)
        if len(tokens) != len(self.atttypes):
            raise DataError(
                "expecting %d components for the type %s, %d found instead"
                % (len(self.atttypes), self.name, len(tokens)))
        values = [lookup(oid, curs)(token, curs)
                  for oid, token in zip(self.atttypes, tokens, strict=True)]
        return self.make(values)

    def make(self, values):
        """Return the Python object for the attribute values, already cast."""
        return self._ctor(values)

    @classmethod
    def tokenize(cls, s):
        """Split a composite's text output into its fields (str, or None for NULL)."""
        tokens = []
        for field in _composite_field.finditer(s):
            empty, quoted, bare = field.groups()
            if empty is not None:
                tokens.append(None)
            elif quoted is not None:
                tokens.append(_composite_doubled.sub(r'\1', quoted))
            else:
                tokens.append(bare)
        return tokens

    def _create_type(self, name, attnames):
        self.type = namedtuple(_re_clean.sub('_', name), attnames)
        self._ctor = self.type._make

    @classmethod
    def _from_db(cls, name, conn_or_curs):
        """Return a caster for the composite type `name`, read from the catalog.

        `name` may be schema-qualified (default schema: public); failing that it is
        resolved as a regtype, which follows the search_path.
        Raises ProgrammingError if the type is not found.
        """
        schema, type_name = name.split('.', 1) if '.' in name else ('public', name)
        with _catalog_lookup(conn_or_curs) as (conn, curs):
            typarray = _typarray_column(conn)
            curs.execute(
                _COMPOSITE_ATTRIBUTES_SQL.format(
                    typarray=typarray, extra_columns="",
                    condition="t.typname = %s AND ns.nspname = %s"),
                (type_name, schema))
            rows = curs.fetchall()
            if not rows:
                rows = cls._find_by_regtype(name, conn, curs, typarray)
                if rows:
                    type_name, schema = rows[0][4], rows[0][5]
        if not rows:
            raise ProgrammingError(f"PostgreSQL type '{name}' not found")
        return cls(type_name, rows[0][0], [(row[2], row[3]) for row in rows],
                   array_oid=rows[0][1], schema=schema)

    @staticmethod
    def _find_by_regtype(name, conn, curs, typarray):
        """The attribute rows of `name` resolved as a regtype, or [] if it isn't a type."""
        # An invalid name fails the statement: in a transaction, keep it usable.
        savepoint = conn.status == STATUS_IN_TRANSACTION
        if savepoint:
            curs.execute("SAVEPOINT register_type")
        try:
            curs.execute(
                _COMPOSITE_ATTRIBUTES_SQL.format(
                    typarray=typarray, extra_columns=", t.typname, ns.nspname",
                    condition="t.oid = %s::regtype"),
                (name,))
            return curs.fetchall()
        except ProgrammingError:
            return []
        finally:
            if savepoint:
                curs.execute("ROLLBACK TO SAVEPOINT register_type")


def register_composite(name, conn_or_curs, globally=False, factory=None):
    """Cast the composite type `name` (and its array) with a `CompositeCaster`.

    The type is looked up through `conn_or_curs`; the casters are registered on it, or
    everywhere if `globally`. `factory`: a CompositeCaster subclass to use instead.
    Returns the caster.
    """
    caster = (factory or CompositeCaster)._from_db(name, conn_or_curs)
    scope = _scope(conn_or_curs, globally)
    register_type(caster.typecaster, scope)
    if caster.array_typecaster is not None:
        register_type(caster.array_typecaster, scope)
    return caster
