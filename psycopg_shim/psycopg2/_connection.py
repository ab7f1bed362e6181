"""psycopg2's connection class, on the native session (psycopg2._psycopg.PGConn)."""

import re
import threading

from psycopg2 import _exceptions, _psycopg, _scope, _session
from psycopg2._adapt import encodings, server_string_syntax
from psycopg2._constants import (
    POLL_OK,
    STATUS_BEGIN,
    STATUS_PREPARED,
    STATUS_READY,
    STATUS_SETUP,
    TRANSACTION_STATUS_IDLE,
    TRANSACTION_STATUS_UNKNOWN,
)
from psycopg2._cursor import cursor as _cursor_class
from psycopg2._dsn import make_dsn, parse_dsn
from psycopg2._exceptions import (
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from psycopg2._native_errors import from_native
from psycopg2._objects import ConnectionInfo, Notify, Xid

_MAX_NOTICES = 50           # psycopg2 keeps the last 50 notices
_DEFAULT_CONNECT_TIMEOUT = 30.0  # seconds, when the dsn sets none: never hang forever


# Statements whose effect outlives the transaction on the server session. A pooled session that
# ran one is reset (DISCARD ALL) before its server connection goes back to the pool.
_SESSION_STATEMENT = re.compile(
    rb"^\s*(SET(?!\s+(LOCAL|TRANSACTION|CONSTRAINTS)\b)|RESET|LISTEN|PREPARE\s|LOAD\s"
    rb"|CREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP)", re.IGNORECASE)
# Their first three letters: a cheap test that spares the regex to every other statement.
_SESSION_PREFIXES = frozenset((b"SET", b"RES", b"LIS", b"PRE", b"LOA", b"CRE"))


def _obscure_password(dsn):
    try:
        params = parse_dsn(dsn)
    except ProgrammingError:
        return dsn
    if "password" not in params:
        return dsn
    params["password"] = "xxx"
    return make_dsn(**params)


class connection:
    """A PostgreSQL session (psycopg2.extensions.connection). Subclassable."""

    # psycopg2's connection is a C type whose state exists before __init__ runs: a subclass that
    # never calls it gets an unconnected object that answers like one (closed 0, info empty,
    # "connection already closed" on use), not AttributeErrors. __init__ sets the real values.
    _pq = None
    _closed = 0
    _status = STATUS_SETUP
    _pooled = False
    _held_cursors = 0
    _session_dirty = False
    _encoding = None
    _codec = "utf-8"
    _autocommit = False
    _isolation_level = _readonly = _deferrable = None
    _entered = False
    _tpc_xid = None
    _mark = 0                 # bumped when a transaction ends: named cursors of it are dead
    _error_message = None     # libpq's text of the last failed statement, as PQerrorMessage
    dsn = None
    notices = notifies = None
    cursor_factory = None
    string_types = binary_types = _typecasters = None

    # PEP 249's optional extension: the exception classes as connection attributes.
    Error = _exceptions.Error
    Warning = _exceptions.Warning
    InterfaceError = _exceptions.InterfaceError
    DatabaseError = _exceptions.DatabaseError
    InternalError = _exceptions.InternalError
    OperationalError = _exceptions.OperationalError
    ProgrammingError = _exceptions.ProgrammingError
    IntegrityError = _exceptions.IntegrityError
    DataError = _exceptions.DataError
    NotSupportedError = _exceptions.NotSupportedError

    def __init__(self, dsn, async_=False, _pool=None, **kwargs):
        """_pool: None (one server connection for this object, as psycopg2) or a dict of
        connect_pooled() settings: server connections are borrowed per transaction."""
        if async_ or kwargs.get("async"):
            raise NotSupportedError(
                "asynchronous connections are not supported by puff's driver; under puff every "
                "wait already lets other greenlets run")
        params = parse_dsn(dsn)
        self.dsn = _obscure_password(dsn)
        self.notices = []
        self.notifies = []
        self.string_types = {}
        self.binary_types = {}
        self._typecasters = self.string_types
        # Held across a check and the statements it decides (BEGIN then the query, the status
        # test then COMMIT), as psycopg2 holds its connection lock; re-entrant for the nesting.
        self._lock = threading.RLock()
        self._connect(dsn, params, _pool)
        self._pooled = _pool is not None
        self._status = STATUS_READY
        self._setup()

    def _connect(self, dsn, params, pool):
        timeout = params.get("connect_timeout")
        try:
            timeout = float(timeout) if timeout else _DEFAULT_CONNECT_TIMEOUT
        except ValueError:
            timeout = _DEFAULT_CONNECT_TIMEOUT
        timeout = timeout if timeout > 0 else _DEFAULT_CONNECT_TIMEOUT
        try:
            if pool is None:
                self._pq = _psycopg.connect(dsn, timeout)
            else:
                # The pool's own connect_timeout (puff.toml's, chosen by the engine) wins.
                self._pq = _psycopg.connect_pooled(dsn, **{"connect_timeout": timeout, **pool})
        except _psycopg.NativeError as e:
            self._closed = 2  # a connection that failed to open is a broken one
            raise from_native(e) from None

    # ---- session set-up ---------------------------------------------------------------

    def _setup(self):
        # psycopg2 works with ISO dates: the typecasters parse that format only.
        datestyle = self._pq.parameter_status("DateStyle") or ""
        if not datestyle.startswith("ISO"):
            self._run(b"SET DATESTYLE TO 'ISO'")
        self._read_encoding()
        # Quoting without a connection (adapt(x).getquoted()) follows the last server seen, as
        # libpq does.
        server_string_syntax(self)

    def _read_encoding(self):
        name = (self._pq.parameter_status("client_encoding") or "UTF8").upper()
        name = name.replace("-", "").replace("_", "")
        self._encoding = name
        self._codec = encodings.get(name, "utf-8" if name == "UTF8" else name.lower())

    # ---- running statements -----------------------------------------------------------

    def _check_open(self):
        if self._closed or self._pq is None:
            raise InterfaceError("connection already closed")

    def _check_not_prepared(self, what):
        if self._status == STATUS_PREPARED:
            raise ProgrammingError(
                "%s cannot be used with a prepared two-phase transaction" % what)

    def _run(self, query, cursor=None, copy=None):
        """Send one query (bytes), return the native result. Errors become psycopg2's.
        `copy`: (read, write) for the COPY FROM STDIN / TO STDOUT the query may run."""
        if self._pooled and query.lstrip()[:3].upper() in _SESSION_PREFIXES and \
                _SESSION_STATEMENT.match(query):
            self._session_dirty = True
        try:
            if copy is None:
                result = self._pq.execute(query)
            else:
                result = self._pq.copy(query, *copy)
        except _psycopg.NativeError as e:
            self._error_message = e.message
            self._after_statement()
            if self._pq.closed and e.kind != "query_failed":
                self._closed = 2
            # A COPY's file failure is the error's cause (None otherwise: no context shown).
            raise from_native(e, cursor) from e.__cause__
        except Exception:
            if copy is None:
                raise
            self._after_statement()  # the COPY's file raised; the statement ended all the same
            raise
        self._error_message = None
        self._after_statement()
        return result

    def _after_statement(self):
        pq = self._pq
        if pq.has_unasked():
            self._deliver_unasked()
        if pq.transaction_status == TRANSACTION_STATUS_IDLE and self._status != STATUS_PREPARED:
            self._status = STATUS_READY
        elif pq.closed:
            self._closed = 2
        if self._pooled:
            self._maybe_release()

    def _deliver_unasked(self):
        pq = self._pq
        notices = pq.notices()
        if notices:
            self._deliver_notices(notices)
        notifies = pq.notifies()
        if notifies:
            self._deliver_notifies(notifies)

    def _deliver_notifies(self, received):
        # Like notices: any object with append() (a deque...); a failing append drops the rest.
        try:
            for pid, channel, payload in received:
                self.notifies.append(Notify(pid, channel, payload))
        except Exception:
            return

    def _deliver_notices(self, texts):
        # `notices` may be any object with append() (a deque...); like psycopg2, a failing
        # append drops the remaining messages rather than failing the statement.
        try:
            for text in texts:
                self.notices.append(text)
        except Exception:
            return
        if isinstance(self.notices, list) and len(self.notices) > _MAX_NOTICES:
            del self.notices[:len(self.notices) - _MAX_NOTICES]

    def _maybe_release(self):
        """A pooled session gives its server connection back between transactions."""
        if not self._pooled or not self._pq.leased or self._held_cursors or \
                self._status != STATUS_READY or self._entered or \
                self._pq.transaction_status != TRANSACTION_STATUS_IDLE:
            return
        if self._session_dirty:
            self._session_dirty = False
            try:
                self._pq.execute(b"DISCARD ALL")
            except _psycopg.NativeError:
                pass  # a broken connection: the pool drops it
        self._pq.release()

    def _holds_nothing(self):
        """A pooled session between transactions: open, no server connection borrowed, no
        transaction or named cursor of its own (what lets the engine hand it on)."""
        return self._pooled and not self._closed and self._pq is not None and \
            not self._pq.leased and self._status == STATUS_READY and \
            not self._held_cursors and not self._entered

    def _begin_if_needed(self):
        if self._status != STATUS_READY or (self._autocommit and not self._entered):
            return
        if self._pq.transaction_status != TRANSACTION_STATUS_IDLE:
            # The user ran BEGIN (or a multi-statement text left a transaction open).
            self._status = STATUS_BEGIN
            return
        self._run(_session.begin_statement(self._isolation_level, self._readonly,
                                           self._deferrable))
        self._status = STATUS_BEGIN

    def _execute(self, query, cursor=None, begin=True, copy=None):
        """cursor.execute's path: BEGIN when psycopg2 would, then the query."""
        if self._closed or self._pq is None:
            raise InterfaceError("connection already closed")
        with self._lock:
            in_transactions = not self._autocommit or self._entered
            if begin and in_transactions and self._status == STATUS_READY:
                self._begin_if_needed()
            result = self._run(query, cursor, copy)
            if in_transactions and self._pq.transaction_status != TRANSACTION_STATUS_IDLE:
                self._status = STATUS_BEGIN
        return result

    # ---- transactions -----------------------------------------------------------------

    def commit(self):
        self._check_open()
        if self._tpc_xid is not None:
            raise ProgrammingError("commit cannot be used during a two-phase transaction")
        self._end_transaction(b"COMMIT")

    def rollback(self):
        self._check_open()
        if self._tpc_xid is not None:
            raise ProgrammingError("rollback cannot be used during a two-phase transaction")
        self._end_transaction(b"ROLLBACK")

    def _end_transaction(self, statement):
        """COMMIT/ROLLBACK/ABORT when a transaction is open. The test and the statement run under
        the lock: two threads ending the same transaction must not both send it."""
        with self._lock:
            if self._status == STATUS_READY:
                return
            self._mark += 1
            try:
                self._run(statement)
            finally:
                if self._pq.transaction_status in (TRANSACTION_STATUS_IDLE,
                                                   TRANSACTION_STATUS_UNKNOWN):
                    self._status = STATUS_READY

    def __enter__(self):
        self._check_open()
        if self._entered:
            raise ProgrammingError("the connection cannot be re-entered recursively")
        self._entered = True
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self._entered = False
        return False

    # ---- session characteristics ------------------------------------------------------

    def _check_settable(self, what):
        self._check_open()
        if self._status != STATUS_READY:
            raise ProgrammingError("%s cannot be used inside a transaction" % what)

    def set_session(self, isolation_level=None, readonly=None, deferrable=None, autocommit=None):
        self._check_settable("set_session")
        unchanged = object()
        level = unchanged if isolation_level is None else \
            _session.parse_isolation_level(isolation_level)
        ro = unchanged if readonly is None else _session.parse_on_off(readonly)
        de = unchanged if deferrable is None else _session.parse_on_off(deferrable)
        ac = unchanged if autocommit is None else bool(autocommit)
        self._apply_session(ac, level, ro, de, unchanged)

    def _apply_session(self, autocommit, level, readonly, deferrable, unchanged):
        want_autocommit = self._autocommit if autocommit is unchanged else autocommit
        if want_autocommit:
            # No BEGIN will be sent: the characteristics become the session's defaults.
            names = {None: "default", 1: "read committed", 2: "repeatable read",
                     3: "serializable", 4: "read uncommitted"}
            on_off = {None: "default", True: "on", False: "off"}
            if level is not unchanged:
                self._set_guc("default_transaction_isolation", names[level])
            if readonly is not unchanged:
                self._set_guc("default_transaction_read_only", on_off[readonly])
            if deferrable is not unchanged:
                self._set_guc("default_transaction_deferrable", on_off[deferrable])
        elif self._autocommit:
            # Leaving autocommit: BEGIN carries the characteristics again.
            if self._isolation_level is not None:
                self._set_guc("default_transaction_isolation", "default")
            if self._readonly is not None:
                self._set_guc("default_transaction_read_only", "default")
            if self._deferrable is not None:
                self._set_guc("default_transaction_deferrable", "default")
        if autocommit is not unchanged:
            self._autocommit = autocommit
        if level is not unchanged:
            self._isolation_level = level
        if readonly is not unchanged:
            self._readonly = readonly
        if deferrable is not unchanged:
            self._deferrable = deferrable

    def _set_guc(self, name, value):
        if value == "default":
            self._run(("SET %s TO DEFAULT" % name).encode())
        else:
            self._run(("SET %s TO '%s'" % (name, value)).encode())

    @property
    def autocommit(self):
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value):
        self._check_settable("autocommit")
        unchanged = object()
        self._apply_session(bool(value), unchanged, unchanged, unchanged, unchanged)

    @property
    def isolation_level(self):
        self._check_open()
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value):
        self._check_settable("isolation_level")
        unchanged = object()
        self._apply_session(unchanged, _session.parse_isolation_level(value), unchanged,
                            unchanged, unchanged)

    @property
    def readonly(self):
        return self._readonly

    @readonly.setter
    def readonly(self, value):
        self._check_settable("readonly")
        unchanged = object()
        self._apply_session(unchanged, unchanged, _session.parse_on_off(value), unchanged,
                            unchanged)

    @property
    def deferrable(self):
        return self._deferrable

    @deferrable.setter
    def deferrable(self, value):
        self._check_settable("deferrable")
        unchanged = object()
        self._apply_session(unchanged, unchanged, unchanged, _session.parse_on_off(value),
                            unchanged)

    def set_isolation_level(self, level):
        """psycopg2's legacy API: ends any transaction (rollback), 0 means autocommit."""
        self._check_open()
        # psycopg2's message quotes the name (its macro stringifies a string literal).
        self._check_not_prepared('"isolation_level"')
        if level is not None and not 0 <= level <= 4:
            raise ValueError("isolation level must be between 0 and 4")
        self._end_transaction(b"ROLLBACK")
        unchanged = object()
        if level == 0:
            self._apply_session(True, unchanged, unchanged, unchanged, unchanged)
        else:
            self._apply_session(False, level, unchanged, unchanged, unchanged)

    # ---- encoding ---------------------------------------------------------------------

    @property
    def encoding(self):
        return self._encoding

    def set_client_encoding(self, encoding):
        self._check_open()
        self._check_not_prepared("set_client_encoding")
        name = str(encoding).upper().replace("-", "").replace("_", "")
        if name not in encodings:
            # Let the server judge names we don't know (it knows aliases we don't).
            name = str(encoding)
        self._end_transaction(b"ROLLBACK")
        quoted = name.replace("'", "''")
        self._run(("SET client_encoding = '%s'" % quoted).encode())
        self._read_encoding()

    # ---- information ------------------------------------------------------------------

    @property
    def closed(self):
        if not self._closed and self._pq is not None and self._pq.closed:
            self._closed = 2
        return self._closed

    @property
    def status(self):
        return self._status

    # Like psycopg2's, these read what the connection learnt at connect time: no check that it
    # is still open; 0 before it ever connected.
    @property
    def server_version(self):
        return self._pq.server_version if self._pq is not None else 0

    @property
    def protocol_version(self):
        return 3 if self._pq is not None else 0

    @property
    def info(self):
        return ConnectionInfo(self)

    def _live_pq(self):
        """The native session while libpq would still have one (not after close()), else None."""
        return self._pq if self._closed != 1 else None

    def get_backend_pid(self):
        self._check_open()
        return self._pq.backend_pid

    def get_parameter_status(self, name):
        self._check_open()
        return self._pq.parameter_status(name)

    def get_transaction_status(self):
        if self._closed or self._pq is None:
            return TRANSACTION_STATUS_UNKNOWN
        return self._pq.transaction_status

    def get_dsn_parameters(self):
        return self.info.dsn_parameters

    @property
    def async_(self):
        return 0

    def isexecuting(self):
        return False

    def fileno(self):
        """libpq's socket, to select() on before poll() (LISTEN/NOTIFY). Inside puff's hub a
        select() blocks every greenlet: run it with puff.run_blocking, or poll() with sleeps."""
        self._check_open()
        if self._pooled:
            raise NotSupportedError(
                "fileno() is not available on a pooled connection: its server connection "
                "changes from one transaction to the next")
        return self._pq.fileno()

    # libpq's PGconn stays inside puff's native layer (runtime/pg), which does not hand it out.
    def get_native_connection(self):
        raise NotSupportedError(
            "get_native_connection() is not available: puff's driver keeps libpq's PGconn "
            "inside its native layer")

    @property
    def pgconn_ptr(self):
        raise NotSupportedError(
            "pgconn_ptr is not available: puff's driver keeps libpq's PGconn inside its native "
            "layer")

    def poll(self):
        """Reads what the server sent unasked: NOTIFYs land in `notifies`, messages in
        `notices`. A synchronous connection has nothing else to advance: always POLL_OK."""
        self._check_open()
        with self._lock:
            try:
                self._pq.poll()
            except _psycopg.NativeError as e:
                self._closed = 2
                raise from_native(e) from None
            self._deliver_unasked()
            if self._pq.closed:
                self._closed = 2
                raise OperationalError("the server closed the connection (found by poll())")
        return POLL_OK

    # ---- cursors and life -------------------------------------------------------------

    def cursor(self, name=None, cursor_factory=None, withhold=False, scrollable=None):
        if self._closed or self._pq is None:
            raise InterfaceError("connection already closed")
        factory = cursor_factory or self.cursor_factory or _cursor_class
        cur = factory(self, name)
        if not isinstance(cur, _cursor_class):
            raise TypeError("cursor factory must be subclass of psycopg2.extensions.cursor")
        # Through the setters: they refuse withhold/scrollable on an unnamed cursor.
        if withhold is not False:
            cur.withhold = withhold
        if scrollable is not None:
            cur.scrollable = scrollable
        return cur

    def cancel(self):
        self._check_open()
        self._check_not_prepared("cancel")
        try:
            self._pq.cancel()
        except _psycopg.NativeError as e:
            raise OperationalError(e.message.strip()) from None

    def reset(self):
        """Back to a fresh session: abort, DISCARD ALL, default characteristics."""
        self._check_open()
        with self._lock:
            self._mark += 1
            if self._status == STATUS_BEGIN or \
                    self._pq.transaction_status != TRANSACTION_STATUS_IDLE:
                self._run(b"ABORT")
            self._run(b"DISCARD ALL")
            self._status = STATUS_READY
        self._tpc_xid = None
        self._autocommit = False
        self._isolation_level = self._readonly = self._deferrable = None
        self._setup()

    def close(self):
        if self._pq is not None and self._closed != 1:
            self._pq.close()
        self._closed = 1

    def lobject(self, *args, **kwargs):
        raise NotSupportedError("large objects are not supported by puff's driver yet")

    # ---- two-phase commit -------------------------------------------------------------

    def xid(self, format_id, gtrid, bqual):
        return Xid(format_id, gtrid, bqual)

    def tpc_begin(self, xid):
        self._check_open()
        if self._status != STATUS_READY:
            raise ProgrammingError("tpc_begin cannot be used inside a transaction")
        if self._autocommit:
            raise ProgrammingError("tpc_begin can't be called in autocommit mode")
        if not isinstance(xid, Xid):
            xid = Xid.from_string(str(xid))
        self._tpc_xid = xid
        self._begin_if_needed()

    def tpc_prepare(self):
        self._check_open()
        self._check_not_prepared("tpc_prepare")
        if self._tpc_xid is None:
            raise ProgrammingError("prepare must be called inside a two-phase transaction")
        self._tpc_command("PREPARE TRANSACTION", self._tpc_xid)
        self._status = STATUS_PREPARED

    def _tpc_command(self, command, xid):
        with self._lock:
            self._mark += 1
            self._run(command.encode() + b" " + _quote_literal(xid.as_tid()))

    def _tpc_finish(self, xid, verb):
        self._check_open()
        if xid is not None:
            # Ending a transaction prepared earlier (tpc_recover()), maybe by another session.
            if not isinstance(xid, Xid):
                xid = Xid.from_string(str(xid))
            if self._status != STATUS_READY:
                raise ProgrammingError("tpc_commit/tpc_rollback with a xid "
                                       "must be called outside a transaction")
            self._tpc_command(verb + " PREPARED", xid)
            return
        if self._tpc_xid is None:
            raise ProgrammingError("tpc_commit/tpc_rollback with no parameter "
                                   "must be called in a two-phase transaction")
        if self._status == STATUS_PREPARED:
            self._tpc_command(verb + " PREPARED", self._tpc_xid)
        elif self._status == STATUS_BEGIN:
            self._end_transaction(verb.encode())
        else:
            raise InterfaceError("unexpected state in tpc_commit/tpc_rollback")
        self._tpc_xid = None
        self._status = STATUS_READY

    def tpc_commit(self, xid=None):
        self._tpc_finish(xid, "COMMIT")

    def tpc_rollback(self, xid=None):
        self._tpc_finish(xid, "ROLLBACK")

    def tpc_recover(self):
        self._check_open()
        self._check_not_prepared("tpc_recover")
        status = self._status
        # The base cursor class: the connection's factory may build rows that don't unpack.
        cur = _cursor_class(self)
        cur.execute("SELECT gid, prepared, owner, database FROM pg_prepared_xacts")
        xids = []
        for gid, prepared, owner, database in cur.fetchall():
            xid = Xid.from_string(gid)
            xid.prepared, xid.owner, xid.database = prepared, owner, database
            xids.append(xid)
        cur.close()
        if status == STATUS_READY and self._status == STATUS_BEGIN:
            self.rollback()  # only the transaction this query opened
        return xids

    def __repr__(self):
        return "<connection object at 0x%x; dsn: '%s', closed: %d>" % (
            id(self), self.dsn, self.closed)


def _quote_literal(text):
    return ("'%s'" % text.replace("'", "''")).encode()


_scope.register_connection_class(connection)
