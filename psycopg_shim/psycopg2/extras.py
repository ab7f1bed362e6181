"""Miscellaneous goodies of psycopg2: dict and namedtuple cursors, logging connections,
extra adapters and typecasters (uuid, inet, hstore, composite types, json, ranges), and
the batch helpers execute_batch/execute_values.

The code lives in the psycopg2._extras_* modules; this module gathers the public names.
Streaming replication and wait_select are not supported (they raise NotSupportedError).
"""

import json  # noqa: F401 (psycopg2.extras.json is the json module used by Json)

from psycopg2._extras_batch import _paginate, _split_sql, execute_batch, execute_values  # noqa: F401
from psycopg2._extras_logging import (
    LoggingConnection,
    LoggingCursor,
    MinTimeLoggingConnection,
    MinTimeLoggingCursor,
)
from psycopg2._extras_rows import (  # noqa: F401
    DictConnection,
    DictCursor,
    DictCursorBase,
    DictRow,
    NamedTupleConnection,
    NamedTupleCursor,
    RealDictConnection,
    RealDictCursor,
    RealDictRow,
    _re_clean,
)
from psycopg2._extras_types import (  # noqa: F401
    CompositeCaster,
    HstoreAdapter,
    Inet,
    UUID_adapter,
    _solve_conn_curs,
    register_composite,
    register_hstore,
    register_inet,
    register_uuid,
)
from psycopg2._extras_unsupported import (  # noqa: F401
    REPLICATION_LOGICAL,
    REPLICATION_PHYSICAL,
    LogicalReplicationConnection,
    PhysicalReplicationConnection,
    ReplicationConnection,
    ReplicationCursor,
    ReplicationMessage,
    StopReplication,
    wait_select,
)
from psycopg2._ipaddress import register_ipaddress  # noqa: F401
from psycopg2._json import Json, register_default_json, register_default_jsonb, register_json  # noqa: F401
from psycopg2._range import (  # noqa: F401
    DateRange,
    DateTimeRange,
    DateTimeTZRange,
    NumericRange,
    Range,
    RangeAdapter,
    RangeCaster,
    register_range,
)

# psycopg2 defines these classes in psycopg2.extras: pickles (rows can end up in caches)
# and reprs must name that module, not the helper that holds the code.
for _cls in (
        DictCursorBase, DictConnection, DictCursor, DictRow, RealDictConnection,
        RealDictCursor, RealDictRow, NamedTupleConnection, NamedTupleCursor,
        LoggingConnection, LoggingCursor, MinTimeLoggingConnection, MinTimeLoggingCursor,
        UUID_adapter, Inet, HstoreAdapter, CompositeCaster, StopReplication,
        ReplicationConnection, LogicalReplicationConnection, PhysicalReplicationConnection,
        ReplicationCursor, ReplicationMessage):
    _cls.__module__ = __name__
del _cls
