"""json and jsonb: the `Json` adapter and the typecasters (registered globally by
psycopg2.extensions at import, as psycopg2 does).
"""

import json

from psycopg2._adapt import ISQLQuote, QuotedString
from psycopg2._catalog import _solve_conn_curs
from psycopg2._constants import STATUS_IN_TRANSACTION
from psycopg2._exceptions import ProgrammingError
from psycopg2._typecast import new_array_type, new_type, register_type

# Built-in since PostgreSQL 9.2 (json) and 9.4 (jsonb).
JSON_OID = 114
JSONARRAY_OID = 199
JSONB_OID = 3802
JSONBARRAY_OID = 3807


class Json:
    """Adapts any object `dumps` can serialise (by default `json.dumps`) to a json literal.

    Subclasses may override `dumps()` instead of passing `dumps`.
    """

    def __init__(self, adapted, dumps=None):
        self.adapted = adapted
        self._conn = None
        self._dumps = dumps or json.dumps

    def __conform__(self, proto):
        if proto is ISQLQuote:
            return self

    def dumps(self, obj):
        return self._dumps(obj)

    def prepare(self, conn):
        self._conn = conn

    def getquoted(self):
        # The document is quoted as a string: the connection's encoding applies.
        quoted = QuotedString(self.dumps(self.adapted))
        if self._conn is not None:
            quoted.prepare(self._conn)
        return quoted.getquoted()

    def __str__(self):
        return self.getquoted().decode('ascii', 'replace')


def register_json(conn_or_curs=None, globally=False, loads=None,
                  oid=None, array_oid=None, name='json'):
    """Cast the json type `name` (and its array) with `loads` (default `json.loads`).

    Without `oid` the oids are read through `conn_or_curs` (ProgrammingError if there is
    no such type). The casters are registered on `conn_or_curs`, or globally if `globally`
    or if `conn_or_curs` is None. Returns (caster, array caster or None).
    """
    if oid is None:
        oid, array_oid = _get_json_oids(conn_or_curs, name)
    caster, array_caster = _create_json_typecasters(oid, array_oid, loads, name.upper())
    scope = None if globally else (conn_or_curs or None)
    register_type(caster, scope)
    if array_caster is not None:
        register_type(array_caster, scope)
    return caster, array_caster


def register_default_json(conn_or_curs=None, globally=False, loads=None):
    """register_json() for the built-in json type (no catalog query)."""
    return register_json(conn_or_curs=conn_or_curs, globally=globally, loads=loads,
                         oid=JSON_OID, array_oid=JSONARRAY_OID)


def register_default_jsonb(conn_or_curs=None, globally=False, loads=None):
    """register_json() for the built-in jsonb type (no catalog query)."""
    return register_json(conn_or_curs=conn_or_curs, globally=globally, loads=loads,
                         oid=JSONB_OID, array_oid=JSONBARRAY_OID, name='jsonb')


# The two helpers below keep psycopg2's private names: some third-party code calls them.
def _create_json_typecasters(oid, array_oid, loads=None, name='JSON'):
    if loads is None:
        loads = json.loads

    def cast_json(value, cursor):
        return None if value is None else loads(value)

    caster = new_type((oid,), name, cast_json)
    array_caster = (None if array_oid is None
                    else new_array_type((array_oid,), f"{name}ARRAY", caster))
    return caster, array_caster


def _get_json_oids(conn_or_curs, name='json'):
    """(oid, array oid) of the type `name`, read from pg_type."""
    conn, curs = _solve_conn_curs(conn_or_curs)
    status_before = conn.status
    # pg_type.typarray appeared in PostgreSQL 8.3.
    typarray = "typarray" if conn.server_version >= 80300 else "NULL"
    curs.execute("SELECT t.oid, %s FROM pg_type t WHERE t.typname = %%s" % typarray, (name,))
    row = curs.fetchone()
    if status_before != STATUS_IN_TRANSACTION and not conn.autocommit:
        conn.rollback()  # leave the connection idle as it was found
    if not row:
        raise ProgrammingError(f"{name} data type not found")
    return row
