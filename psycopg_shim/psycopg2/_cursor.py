"""psycopg2's cursor class: client-side interpolation, typecasting, named (server) cursors."""

import datetime
from operator import index as _as_int

from psycopg2 import _scope
from psycopg2._adapt import mogrify as _mogrify
from psycopg2._constants import (
    STATUS_PREPARED,
    TRANSACTION_STATUS_INERROR,
    TRANSACTION_STATUS_UNKNOWN,
)
from psycopg2._exceptions import InterfaceError, InternalError, ProgrammingError
from psycopg2._objects import Column
from psycopg2._typecast import lookup as _lookup

_PGRES_COMMAND_OK = 1
_PGRES_TUPLES_OK = 2
_PGRES_EMPTY_QUERY = 0
_NUMERIC_OID = 1700


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


def _quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def _quote_literal(text):
    return "'%s'" % text.replace("'", "''")


class cursor:
    """A cursor (psycopg2.extensions.cursor). Subclassable: cursor(conn, name=None)."""

    # psycopg2's cursor is a C type whose state exists before __init__ runs: a subclass that
    # never calls it gets a cursor without connection, refused with InterfaceError on use.
    _conn = None
    _name = None
    _closed = False
    _withhold = False
    _scrollable = None
    _result = None
    _description = None  # built from _result when first read: most callers never look
    _closed_fields = None  # a closed cursor's column facts, for its description
    query = None
    rowcount = -1
    rownumber = 0
    statusmessage = None
    lastrowid = None
    arraysize = 1
    itersize = 2000
    tzinfo_factory = datetime.timezone
    row_factory = None
    _holds_session = False

    def __init__(self, conn, name=None):
        if not _scope.is_connection(conn):
            raise TypeError("argument 1 must be psycopg2.extensions.connection, not %s"
                            % type(conn).__name__)
        if isinstance(name, bytes):
            name = name.decode(conn._codec)
        elif name is not None and not isinstance(name, str):
            raise TypeError("name must be a string, not %s" % type(name).__name__)
        self._conn = conn
        self._name = name
        self._closed = False
        # A server cursor belongs to the transaction it was created in (unless WITH HOLD): the
        # connection's mark moves on when that transaction ends.
        self._mark = conn._mark
        self.string_types = {}
        self.binary_types = {}
        self._typecasters = self.string_types
        # The rest starts from the class's defaults (a cursor is made for every Django query).

    def _reset_result(self):
        self._result = None
        self._description = None
        self.rowcount = -1
        self.rownumber = 0
        self.statusmessage = None
        self.lastrowid = None

    # ---- attributes ---------------------------------------------------------------------

    connection = property(lambda self: self._conn)

    @property
    def description(self):
        description = self._description
        if description is None:
            if self._result is not None:
                fields = self._result.fields()
            elif self._closed_fields is not None:
                fields = self._closed_fields
            else:
                return None
            description = self._description = _describe(fields, self._conn._codec)
        return description

    name = property(lambda self: self._name)

    @property
    def closed(self):
        return self._closed or (self._conn is not None and bool(self._conn.closed))

    @property
    def withhold(self):
        return self._withhold

    @withhold.setter
    def withhold(self, value):
        if value is not False and self._name is None:
            raise ProgrammingError("trying to set .withhold on unnamed cursor")
        self._withhold = bool(value)

    @property
    def scrollable(self):
        return self._scrollable

    @scrollable.setter
    def scrollable(self, value):
        if value is not None and self._name is None:
            raise ProgrammingError("trying to set .scrollable on unnamed cursor")
        self._scrollable = None if value is None else bool(value)

    @property
    def pgresult_ptr(self):
        """The address of the current libpq PGresult, or None."""
        return self._result.ptr if self._result is not None else None

    def _check_usable(self):
        if self._conn is None:
            raise InterfaceError("the cursor has no connection")
        if self._closed or self._conn.closed:
            raise InterfaceError("cursor already closed")

    def _check_mark(self):
        if self._mark != self._conn._mark and not self._withhold:
            raise ProgrammingError("named cursor isn't valid anymore")

    # ---- execution ----------------------------------------------------------------------

    def mogrify(self, query, vars=None):
        # No check that the cursor is open: psycopg2 quotes with a closed one too.
        return _mogrify(query, vars, self._conn)

    def execute(self, query, vars=None):
        # The hot path of every driver user: checks inlined, the rare cases in the helpers.
        conn = self._conn
        if self._name is not None:
            self._check_declarable()
        if conn is None or self._closed or conn.closed:
            self._check_usable()
        if conn._status == STATUS_PREPARED:
            conn._check_not_prepared("execute")
        sql = _mogrify(query, vars, conn)
        if self._name is not None:
            return self._declare(sql)
        if not sql.strip():
            raise ProgrammingError("can't execute an empty query")
        self.query = sql
        self._send(sql)

    def _run(self, sql):
        """Runs a statement of the user's: it becomes cursor.query."""
        if not sql.strip():
            raise ProgrammingError("can't execute an empty query")
        self.query = sql
        self._send(sql)

    def _send(self, sql, begin=True):
        """Runs `sql` on the connection (BEGIN first if `begin` and psycopg2 would); its result
        becomes the cursor's."""
        self._reset_result()
        result = self._conn._execute(sql, self, begin)
        if result is not None:
            self._take(result)

    def _take(self, result):
        status = result.status
        if status == _PGRES_TUPLES_OK:
            self._result = result
            self.rowcount = result.ntuples
        elif status == _PGRES_COMMAND_OK:
            self.rowcount = result.cmd_tuples
        elif status == _PGRES_EMPTY_QUERY:
            raise ProgrammingError("can't execute an empty query")
        else:  # COPY results stay in the native layer: nothing else is expected
            raise InternalError("unexpected result status %d" % status)
        self.statusmessage = result.cmd_status or None
        oid = result.oid_value
        self.lastrowid = oid if oid is not None else 0

    def executemany(self, query, vars_list):
        self.rowcount = -1
        self._check_usable()
        self._conn._check_not_prepared("executemany")
        if self._name is not None:
            raise ProgrammingError("can't call .executemany() on named cursors")
        total = 0
        for vars in vars_list:
            self._run(_mogrify(query, vars, self._conn))
            # One statement without a count makes the total unknown, as in psycopg2.
            total = -1 if self.rowcount == -1 or total == -1 else total + self.rowcount
        # psycopg2 discards the rows of the statements it runs here.
        self._result = None
        self._description = None
        self.rowcount = total

    def callproc(self, procname, parameters=None):
        """SELECT * FROM procname(...): positional parameters, or named ones from a dict (then
        returns None, as psycopg2)."""
        self._check_usable()
        self._conn._check_not_prepared("callproc")
        if self._name is not None:
            raise ProgrammingError("can't call .callproc() on named cursors")
        if isinstance(procname, bytes):
            procname = procname.decode(self._conn._codec)
        count = len(parameters) if parameters is not None else 0
        if count and isinstance(parameters, dict):
            from psycopg2._adapt import quote_ident
            # The names are quoted into the SQL; the values go as %s, in the dict's order.
            names = [quote_ident(key, self) for key in parameters]
            args = ",".join("%s:=%%s" % name for name in names)
            self.execute("SELECT * FROM %s(%s)" % (procname, args), list(parameters.values()))
            return None
        self.execute("SELECT * FROM %s(%s)" % (procname, ",".join(["%s"] * count)), parameters)
        return parameters

    def setinputsizes(self, sizes):
        pass

    def setoutputsize(self, size, column=None):
        pass

    def cast(self, oid, s):
        return _lookup(oid, self)(s, self)

    # ---- named (server-side) cursors ----------------------------------------------------

    def _check_declarable(self):
        if self.query is not None:
            raise ProgrammingError("can't call .execute() on named cursors more than once")
        if self._conn.autocommit and not self._withhold:
            raise ProgrammingError("can't use a named cursor outside of transactions")
        self._check_mark()

    def _declare(self, sql):
        scroll = {None: "", False: "NO SCROLL ", True: "SCROLL "}[self._scrollable]
        hold = "WITH" if self._withhold else "WITHOUT"
        declare = "DECLARE %s %sCURSOR %s HOLD FOR " % (_quote_ident(self._name), scroll, hold)
        self._run(declare.encode() + sql)
        if self._withhold:
            self._holds_session = True
            self._conn._held_cursors += 1  # keeps a pooled session on its server connection

    def _server_command(self, command, what):
        """FETCH/MOVE on the server cursor, which may also be one the user DECLAREd: psycopg2
        lets a named cursor read any cursor of that name. Its result becomes the current one."""
        self._check_usable()
        self._check_mark()
        self._conn._check_not_prepared(what)
        # A WITH HOLD cursor outlives transactions: reading it does not open one.
        self._send(("%s %s" % (command, _quote_ident(self._name))).encode(),
                   begin=not self._withhold)

    def _fetch_named(self, how, what):
        self._server_command("FETCH FORWARD %s FROM" % how, what)

    # ---- fetching -----------------------------------------------------------------------

    def _convert(self, start, stop):
        return self._result.rows(start, stop, self)

    def _check_result(self):
        if self._result is None:
            raise ProgrammingError("no results to fetch")

    def fetchone(self):
        conn = self._conn
        # conn._closed: set when a statement finds the session broken (what psycopg2 checks).
        if conn is None or self._closed or conn._closed:
            self._check_usable()
        if self._name is not None:
            self._fetch_named(1, "fetchone")
        result = self._result
        if result is None:
            raise ProgrammingError("no results to fetch")
        number = self.rownumber
        if number >= result.ntuples:
            return None
        self.rownumber = number + 1
        return result.row(number, self)

    def _next_row(self):
        """The row at rownumber of the current result (None past the end), rownumber moved."""
        number = self.rownumber
        if number >= self._result.ntuples:
            return None
        self.rownumber = number + 1
        return self._result.row(number, self)

    def fetchmany(self, size=None):
        if size is None:
            size = self.arraysize
        size = _as_int(size)
        self._check_usable()
        if self._name is not None:
            self._fetch_named(size, "fetchmany")
        self._check_result()
        available = self._result.ntuples - self.rownumber
        stop = self.rownumber + (available if size < 0 or size > available else size)
        return self._take_rows(stop)

    def fetchall(self):
        self._check_usable()
        if self._name is not None:
            self._fetch_named("ALL", "fetchall")
        self._check_result()
        return self._take_rows(self._result.ntuples)

    def _take_rows(self, stop):
        if stop <= self.rownumber:
            return []
        rows = self._convert(self.rownumber, stop)
        self.rownumber = stop
        return rows

    def __iter__(self):
        return self

    def __next__(self):
        if self._name is not None:
            return self._next_named()
        row = cursor.fetchone(self)  # not an override: psycopg2 iterates with its own fetch
        if row is None:
            raise StopIteration
        return row

    def _next_named(self):
        # Server cursors are read itersize rows at a time; rownumber counts within the block.
        self._check_usable()
        if self._result is None or self.rownumber >= self._result.ntuples:
            self._fetch_named(self.itersize, "next")
        row = self._next_row()
        if row is None:
            raise StopIteration
        return row

    def scroll(self, value, mode="relative"):
        value = _as_int(value)
        self._check_usable()
        if self._name is not None:
            # The server moves; rows are read again from there by the next fetch.
            how = "MOVE ABSOLUTE %d FROM" if mode == "absolute" else "MOVE %d FROM"
            self._server_command(how % value, "scroll")
            self.rowcount = -1  # psycopg2 reports no count after a MOVE
            return
        if mode == "relative":
            target = self.rownumber + value
        elif mode == "absolute":
            target = value
        else:
            raise ProgrammingError("scroll mode must be 'relative' or 'absolute'")
        if not 0 <= target < (self._result.ntuples if self._result is not None else -1):
            raise ProgrammingError("scroll destination out of bounds")
        self.rownumber = target

    # ---- life -----------------------------------------------------------------------------

    def close(self):
        if self._closed:
            return
        if self._name is not None and self._conn is not None:
            self._close_server_cursor()
        if self._description is None and self._result is not None:
            self._closed_fields = self._result.fields()  # description outlives close (psycopg2)
        self._closed = True
        self._result = None

    def _close_server_cursor(self):
        status = self._conn.get_transaction_status()
        # No CLOSE on a broken session, nor in a failed transaction (psycopg2 skips it too).
        if status in (TRANSACTION_STATUS_UNKNOWN, TRANSACTION_STATUS_INERROR):
            if self._holds_session:
                self._conn._session_dirty = True  # the cursor stays: DISCARD before pool reuse
        else:
            if self.query is None and not self._server_cursor_exists():
                return  # never executed and nobody DECLAREd it: nothing to close
            self._check_mark()
            self._send(("CLOSE %s" % _quote_ident(self._name)).encode(), begin=False)
        if self._holds_session:
            self._holds_session = False
            self._conn._held_cursors -= 1
            self._conn._maybe_release()

    def _server_cursor_exists(self):
        self._send(("SELECT 1 FROM pg_catalog.pg_cursors WHERE name = %s"
                    % _quote_literal(self._name)).encode(), begin=False)
        return self.rowcount != 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    # ---- COPY -----------------------------------------------------------------------------

    def copy_from(self, file, table, sep="\t", null="\\N", size=8192, columns=None):
        from psycopg2 import _copy
        _copy.copy_from(self, file, table, sep, null, size, columns)

    def copy_to(self, file, table, sep="\t", null="\\N", columns=None):
        from psycopg2 import _copy
        _copy.copy_to(self, file, table, sep, null, columns)

    def copy_expert(self, sql, file, size=8192):
        from psycopg2 import _copy
        _copy.copy_expert(self, sql, file, size)

    def _copy(self, sql, read, write):
        """Runs `sql`, whose COPY FROM STDIN / TO STDOUT read()s and write()s (psycopg2._copy)."""
        self.query = sql
        self._reset_result()
        self._take(self._conn._execute(sql, self, copy=(read, write)))

    def __repr__(self):
        return "<cursor object at 0x%x; closed: %d>" % (id(self), self.closed)


_scope.register_cursor_class(cursor)
