"""Small value objects of psycopg2's API: Column, Notify, Xid, ConnectionInfo."""

import re

from psycopg2._dsn import parse_dsn
from psycopg2._exceptions import NotSupportedError


class Column(tuple):
    """One item of cursor.description: the 7-item sequence of PEP 249 with named attributes,
    plus psycopg2's table_oid and table_column."""

    def __new__(cls, name=None, type_code=None, display_size=None, internal_size=None,
                precision=None, scale=None, null_ok=None, table_oid=None, table_column=None):
        return super().__new__(cls, (name, type_code, display_size, internal_size, precision,
                                     scale, null_ok))

    def __init__(self, name=None, type_code=None, display_size=None, internal_size=None,
                 precision=None, scale=None, null_ok=None, table_oid=None, table_column=None):
        self.table_oid = table_oid
        self.table_column = table_column

    def __reduce__(self):
        return (Column, tuple(self) + (self.table_oid, self.table_column))

    name = property(lambda self: self[0])
    type_code = property(lambda self: self[1])
    display_size = property(lambda self: self[2])
    internal_size = property(lambda self: self[3])
    precision = property(lambda self: self[4])
    scale = property(lambda self: self[5])
    null_ok = property(lambda self: self[6])

    def __repr__(self):
        return "Column(name=%r, type_code=%r)" % (self[0], self[1])  # psycopg2 shows these two


class Notify(tuple):
    """A NOTIFY received by the connection: compares equal to (pid, channel) like psycopg2."""

    def __new__(cls, pid, channel, payload=""):
        self = super().__new__(cls, (pid, channel))
        return self

    def __init__(self, pid, channel, payload=""):
        self.payload = payload

    pid = property(lambda self: self[0])
    channel = property(lambda self: self[1])

    def __eq__(self, other):
        if isinstance(other, Notify):
            return tuple(self) == tuple(other) and self.payload == other.payload
        return tuple(self) == other

    def __ne__(self, other):  # tuple's own __ne__ would ignore the payload
        return not self == other

    def __hash__(self):
        # Without a payload it hashes as its (pid, channel) tuple, which it equals (psycopg2).
        if self.payload:
            return hash((self.pid, self.channel, self.payload))
        return hash((self.pid, self.channel))

    def __repr__(self):
        return "Notify(%r, %r, %r)" % (self.pid, self.channel, self.payload)


class Xid:
    """A two-phase commit transaction id (connection.xid(), tpc_begin())."""

    _XA_FORMAT = re.compile(r"^(\d+)_([A-Za-z0-9+/=]*)_([A-Za-z0-9+/=]*)$")

    def __init__(self, format_id, gtrid, bqual):
        if not 0 <= format_id < 2 ** 31:
            raise ValueError("format_id must be a non-negative 32-bit integer")
        for name, value in (("gtrid", gtrid), ("bqual", bqual)):
            if len(value) > 64:
                raise ValueError("%s must be a string no longer than 64 characters" % name)
            if any(not (0x20 <= ord(ch) < 0x7F) for ch in value):
                raise ValueError("%s must contain only printable characters." % name)
        self.format_id, self.gtrid, self.bqual = format_id, gtrid, bqual
        self.prepared = self.owner = self.database = None

    @classmethod
    def from_string(cls, s):
        """An Xid from a transaction id string: XA-formatted ones are decoded, others are kept
        as an unparsed gtrid (format_id None)."""
        import base64
        m = cls._XA_FORMAT.match(s)
        if m:
            try:
                gtrid = base64.b64decode(m.group(2)).decode("ascii")
                bqual = base64.b64decode(m.group(3)).decode("ascii")
                return cls(int(m.group(1)), gtrid, bqual)
            except (ValueError, UnicodeDecodeError):
                pass
        xid = cls.__new__(cls)
        xid.format_id, xid.gtrid, xid.bqual = None, s, None
        xid.prepared = xid.owner = xid.database = None
        return xid

    def as_tid(self):
        """The string PostgreSQL stores for this xid."""
        import base64
        if self.format_id is None:
            return self.gtrid
        return "%d_%s_%s" % (self.format_id,
                             base64.b64encode(self.gtrid.encode()).decode(),
                             base64.b64encode(self.bqual.encode()).decode())

    def _parts(self):
        return (self.format_id, self.gtrid, self.bqual)

    def __getitem__(self, index):
        return self._parts()[index]

    def __len__(self):
        return 3

    def __iter__(self):
        return iter(self._parts())

    def __eq__(self, other):
        if isinstance(other, Xid):
            return self._parts() == other._parts()
        return NotImplemented

    def __hash__(self):
        return hash(self._parts())

    def __str__(self):
        return self.as_tid()

    def __repr__(self):
        if self.format_id is None:
            return "<Xid: (None, %r, None) (unparsed)>" % self.gtrid
        return "<Xid: %r (not prepared)>" % (self._parts(),)


class ConnectionInfo:
    """connection.info: what libpq knows about the session. Without one (never connected, or
    closed) every attribute answers as libpq does for a NULL connection."""

    def __init__(self, connection):
        self._conn = connection

    def _native(self, key):
        pq = self._conn._live_pq()
        return pq.info()[key] if pq is not None else None

    def _text(key):
        return property(lambda self: self._native(key))

    dbname = _text("dbname")
    user = _text("user")
    password = _text("password")
    host = _text("host")
    options = _text("options")
    del _text

    @property
    def port(self):
        port = self._native("port")
        return int(port) if port else None

    @property
    def ssl_in_use(self):
        return bool(self._native("ssl_in_use"))

    @property
    def used_password(self):
        return bool(self._native("password"))

    @property
    def status(self):
        # libpq's CONNECTION_OK (0) or CONNECTION_BAD (1)
        return 0 if self._conn._live_pq() is not None and not self._conn.closed else 1

    @property
    def transaction_status(self):
        return self._conn.get_transaction_status()

    @property
    def protocol_version(self):
        return 3 if self._conn._live_pq() is not None else 0

    @property
    def server_version(self):
        pq = self._conn._live_pq()
        return pq.server_version if pq is not None else 0

    @property
    def backend_pid(self):
        pq = self._conn._live_pq()
        return pq.backend_pid if pq is not None else 0

    @property
    def error_message(self):
        if self._conn._live_pq() is None:
            return "connection pointer is NULL\n"  # libpq's answer without a connection
        return self._conn._error_message

    needs_password = property(lambda self: False)

    @property
    def dsn_parameters(self):
        self._conn._check_open()
        params = parse_dsn(self._conn.dsn)
        params.pop("password", None)
        return params

    def parameter_status(self, name):
        pq = self._conn._live_pq()
        return pq.parameter_status(name) if pq is not None else None

    def ssl_attribute(self, name):
        return None

    ssl_attribute_names = property(lambda self: [])

    @property
    def socket(self):
        """libpq's socket of a dedicated session (-1 without one); pooled sessions have none."""
        pq = self._conn._live_pq()
        if pq is None:
            return -1
        if pq.pooled:
            raise NotSupportedError(
                "info.socket is not available on a pooled connection: its server connection "
                "changes from one transaction to the next")
        return pq.fileno()
