"""psycopg2's cursor class: client-side interpolation, typecasting, named (server) cursors."""

import datetime

from psycopg2._exceptions import InterfaceError, NotSupportedError, ProgrammingError
from psycopg2._objects import Column

_PGRES_COMMAND_OK = 1
_PGRES_TUPLES_OK = 2
_PGRES_EMPTY_QUERY = 0
_NUMERIC_OID = 1700
_BLOCK = 100  # rows converted at a time by fetchone/iteration


def _describe(fields, codec):
    columns = []
    for name, oid, fsize, fmod, table, table_col in fields:
        if fmod > 0:
            fmod -= 4
        if fsize == -1:
            internal_size = (fmod >> 16) if oid == _NUMERIC_OID else fmod
        else:
            internal_size = fsize
        precision = scale = None
        if oid == _NUMERIC_OID:
            precision, scale = (fmod >> 16) & 0xFFFF, fmod & 0xFFFF
        columns.append(Column(name.decode(codec, "replace"), oid, None, internal_size, precision,
                              scale, None, table or None, table_col if table_col > 0 else None))
    return tuple(columns)


class cursor:
    """A cursor (psycopg2.extensions.cursor). Subclassable: cursor(conn, name=None)."""

    def __init__(self, conn, name=None):
        from psycopg2._connection import connection
        if not isinstance(conn, connection):
            raise TypeError("argument 1 must be psycopg2.extensions.connection, not %s"
                            % type(conn).__name__)
        conn._check_open()
        self._conn = conn
        self._name = name
        self._closed = False
        self.arraysize = 1
        self.itersize = 2000
        self.tzinfo_factory = datetime.timezone
        self.row_factory = None
        self.string_types = {}
        self.binary_types = {}
        self._typecasters = self.string_types
        self.withhold = False
        self.scrollable = None
        self._reset_result()
        self.query = None
        self._declared = False

    def _reset_result(self):
        self._result = None
        self._casters = None
        self._rows = []          # converted rows not yet fetched
        self._rows_from = 0      # index in the result of self._rows[0]
        self.description = None
        self.rowcount = -1
        self.rownumber = 0
        self.statusmessage = None
        self.lastrowid = None

    # ---- attributes ---------------------------------------------------------------------

    connection = property(lambda self: self._conn)
    name = property(lambda self: self._name)

    @property
    def closed(self):
        return self._closed or bool(self._conn.closed)

    @property
    def pgresult_ptr(self):
        return None

    def _check_usable(self):
        if self._closed:
            raise InterfaceError("cursor already closed")
        if self._conn.closed:
            raise InterfaceError("connection already closed")

    # ---- execution ----------------------------------------------------------------------

    def mogrify(self, query, vars=None):
        self._check_usable()
        from psycopg2._adapt import mogrify
        return mogrify(query, vars, self._conn)

    def execute(self, query, vars=None):
        self._check_usable()
        from psycopg2._adapt import mogrify
        if self._name is not None:
            return self._declare(mogrify(query, vars, self._conn))
        sql = mogrify(query, vars, self._conn)
        self._run(sql)

    def _run(self, sql):
        if not sql.strip():
            raise ProgrammingError("can't execute an empty query")
        self.query = sql
        self._reset_result()
        result = self._conn._execute(sql, self)
        self._take(result)

    def _take(self, result):
        if result is None:
            return
        status = result.status
        if status == _PGRES_TUPLES_OK:
            self._result = result
            self.rowcount = result.ntuples
            self.description = _describe(result.fields(), self._conn._codec)
        elif status == _PGRES_COMMAND_OK:
            self.rowcount = result.cmd_tuples
        elif status == _PGRES_EMPTY_QUERY:
            raise ProgrammingError("can't execute an empty query")
        else:
            raise NotSupportedError(
                "COPY is not supported by puff's driver yet (copy_from/copy_to/copy_expert)")
        self.statusmessage = result.cmd_status or None
        oid = result.oid_value
        self.lastrowid = oid if oid is not None else 0

    def executemany(self, query, vars_list):
        self._check_usable()
        if self._name is not None:
            raise ProgrammingError("can't call .executemany() on named cursors")
        from psycopg2._adapt import mogrify
        total = 0
        counted = False
        for vars in vars_list:
            self._run(mogrify(query, vars, self._conn))
            if self.rowcount >= 0:
                total += self.rowcount
                counted = True
        self._result = None
        self.description = None
        self.rowcount = total if counted else -1

    def callproc(self, procname, parameters=None):
        self._check_usable()
        if self._name is not None:
            raise ProgrammingError("can't call .callproc() on named cursors")
        from psycopg2._adapt import quote_ident
        if isinstance(procname, bytes):
            procname = procname.decode(self._conn._codec)
        if parameters is None:
            parameters = ()
        if isinstance(parameters, dict):
            names = ", ".join("%s := %%(%s)s" % (quote_ident(k, self), k) for k in parameters)
            self.execute("SELECT * FROM %s(%s)" % (procname, names), parameters)
        else:
            placeholders = ", ".join(["%s"] * len(parameters))
            self.execute("SELECT * FROM %s(%s)" % (procname, placeholders), parameters)
        return parameters

    def setinputsizes(self, sizes):
        pass

    def setoutputsize(self, size, column=None):
        pass

    def cast(self, oid, s):
        from psycopg2._typecast import lookup
        return lookup(oid, self)(s, self)

    # ---- named (server-side) cursors ----------------------------------------------------

    def _quoted_name(self):
        return '"%s"' % self._name.replace('"', '""')

    def _declare(self, sql):
        if self._declared:
            raise ProgrammingError("can't call .execute() on named cursors more than once")
        if self._conn.autocommit and not self.withhold:
            raise ProgrammingError("can't use a named cursor outside of transactions")
        scroll = "" if self.scrollable is None else (" SCROLL" if self.scrollable else " NO SCROLL")
        hold = " WITH HOLD" if self.withhold else ""
        declare = ("DECLARE %s%s CURSOR%s FOR " % (self._quoted_name(), scroll, hold)).encode()
        self._run(declare + sql)
        self.query = declare + sql
        self._declared = True
        if self.withhold:
            self._conn._held_cursors += 1  # keeps a pooled session on its server connection

    def _fetch_named(self, how):
        self._check_usable()
        if not self._declared:
            raise ProgrammingError("no results to fetch")
        sql = ("FETCH FORWARD %s FROM %s" % (how, self._quoted_name())).encode()
        result = self._conn._execute(sql, self)
        self._result = result
        self.description = _describe(result.fields(), self._conn._codec)
        self._casters = None
        self._rows, self._rows_from = [], 0
        rows = self._convert(0, result.ntuples)
        self.rownumber += len(rows)
        self.rowcount = self.rownumber
        return rows

    # ---- fetching -----------------------------------------------------------------------

    def _caster_list(self):
        if self._casters is None:
            from psycopg2._typecast import lookup
            self._casters = [lookup(c.type_code, self) for c in self.description]
        return self._casters

    def _convert(self, start, stop):
        return self._result.rows(start, stop, self._caster_list(), self, self._conn._codec,
                                 self.row_factory)

    def _check_result(self):
        self._check_usable()
        if self._result is None:
            raise ProgrammingError("no results to fetch")

    def fetchone(self):
        if self._name is not None:
            rows = self._fetch_named(1)
            return rows[0] if rows else None
        self._check_result()
        if self.rownumber >= self._result.ntuples:
            return None
        index = self.rownumber - self._rows_from
        if not 0 <= index < len(self._rows):
            self._rows = self._convert(self.rownumber, self.rownumber + _BLOCK)
            self._rows_from = self.rownumber
            index = 0
        self.rownumber += 1
        return self._rows[index]

    def fetchmany(self, size=None):
        if size is None:
            size = self.arraysize
        if self._name is not None:
            return self._fetch_named(int(size))
        self._check_result()
        stop = min(self.rownumber + size, self._result.ntuples)
        rows = self._convert(self.rownumber, stop)
        self.rownumber = max(stop, self.rownumber)
        return rows

    def fetchall(self):
        if self._name is not None:
            return self._fetch_named("ALL")
        self._check_result()
        rows = self._convert(self.rownumber, self._result.ntuples)
        self.rownumber = self._result.ntuples
        return rows

    def __iter__(self):
        return self

    def __next__(self):
        if self._name is not None:
            # Server cursors fetch itersize rows at a time.
            index = self.rownumber - self._rows_from
            if not self._rows or index >= len(self._rows):
                self._rows = self._fetch_named(self.itersize)
                self._rows_from = self.rownumber - len(self._rows)
                index = 0
                if not self._rows:
                    raise StopIteration
            self.rownumber = self._rows_from + index + 1
            return self._rows[index]
        row = cursor.fetchone(self)  # not an override: psycopg2 iterates with its own fetch
        if row is None:
            raise StopIteration
        return row

    def scroll(self, value, mode="relative"):
        self._check_usable()
        if mode not in ("relative", "absolute"):
            raise ProgrammingError("scroll mode must be 'relative' or 'absolute'")
        if self._name is not None:
            how = "MOVE %d FROM %s" if mode == "relative" else "MOVE ABSOLUTE %d FROM %s"
            self._conn._execute((how % (value, self._quoted_name())).encode(), self)
            self.rownumber = value if mode == "absolute" else self.rownumber + value
            self._rows = []
            return
        self._check_result()
        target = value if mode == "absolute" else self.rownumber + value
        if not 0 <= target < self._result.ntuples:
            raise IndexError("scroll destination out of bounds")
        self.rownumber = target

    # ---- life -----------------------------------------------------------------------------

    def close(self):
        if self._closed:
            return
        if self._name is not None and self._declared and not self._conn.closed:
            from psycopg2._constants import TRANSACTION_STATUS_INERROR
            # A cursor dies with its transaction unless WITH HOLD; closing it is then an error.
            if self._conn.get_transaction_status() != TRANSACTION_STATUS_INERROR and \
                    (self.withhold or self._conn.status != 1 or self._conn.autocommit):
                try:
                    self._conn._execute(("CLOSE %s" % self._quoted_name()).encode(), self,
                                        begin=False)
                except ProgrammingError:
                    pass
        if self._name is not None and self._declared and self.withhold:
            self._conn._held_cursors -= 1
            self._conn._maybe_release()
        self._closed = True
        self._result = None
        self._rows = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    # ---- COPY -----------------------------------------------------------------------------

    def copy_from(self, *args, **kwargs):
        raise NotSupportedError("COPY is not supported by puff's driver yet")

    copy_to = copy_expert = copy_from

    def __repr__(self):
        return "<cursor object at 0x%x; closed: %d>" % (id(self), self.closed)
