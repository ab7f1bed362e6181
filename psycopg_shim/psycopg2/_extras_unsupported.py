"""psycopg2.extras names this driver cannot support: streaming replication and wait_select.

Both need libpq's asynchronous interface (connection.poll(), replication protocol
messages), which puff's native layer does not expose. The names exist so that imports
work; using them raises NotSupportedError.
"""

from psycopg2._connection import connection as _connection
from psycopg2._cursor import cursor as _cursor
from psycopg2._exceptions import NotSupportedError

REPLICATION_PHYSICAL = 12345678
REPLICATION_LOGICAL = 87654321

_NO_REPLICATION = (
    "streaming replication is not supported by this psycopg2 implementation "
    "(puff's native PostgreSQL layer has no replication protocol)")


class StopReplication(Exception):
    """Raised by a consume_stream() callback to stop the replication loop.

    Not a `psycopg2.Error`: stopping is not a failure.
    """


class ReplicationConnection(_connection):
    """A replication connection: not supported, creating one raises NotSupportedError."""

    def __init__(self, *args, **kwargs):
        raise NotSupportedError(_NO_REPLICATION)


class LogicalReplicationConnection(ReplicationConnection):
    """A logical replication connection: not supported (see ReplicationConnection)."""


class PhysicalReplicationConnection(ReplicationConnection):
    """A physical replication connection: not supported (see ReplicationConnection)."""


class ReplicationCursor(_cursor):
    """A replication cursor: not supported, creating one raises NotSupportedError."""

    def __init__(self, *args, **kwargs):
        raise NotSupportedError(_NO_REPLICATION)


class ReplicationMessage:
    """A replication stream message: not supported, creating one raises NotSupportedError."""

    def __init__(self, *args, **kwargs):
        raise NotSupportedError(_NO_REPLICATION)


def wait_select(conn):
    """psycopg2's select()-based wait callback: not supported, raises NotSupportedError.

    This driver has no asynchronous connections to poll; its waits are done natively
    (and cooperatively inside puff's hub).
    """
    raise NotSupportedError(
        "wait_select is not supported by this psycopg2 implementation: "
        "it has no asynchronous connections (connection.poll())")
