"""puff's psycopg2-compatible PostgreSQL driver (see psycopg_shim/README.md).

The API follows psycopg2 2.9; the IO runs on puff's native layer: inside the puff hub every
wait lets other greenlets run, elsewhere it blocks with the GIL released.
"""

from psycopg2 import (
    _psycopg,
    tz,  # noqa: F401
)
from psycopg2 import extensions as _ext  # noqa: F401  (registers the default adapters/casters)
from psycopg2._adapt import (  # noqa: F401
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)
from psycopg2._connect import connect  # noqa: F401
from psycopg2._exceptions import (  # noqa: F401
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from psycopg2._typecast import BINARY, DATETIME, NUMBER, ROWID, STRING  # noqa: F401

apilevel = "2.0"
threadsafety = 2
paramstyle = "pyformat"
__version__ = "2.9.13 (dt dec pq3 ext lo64 puff)"
__libpq_version__ = _psycopg.libpq_version()


def _locate_c_entry_points():
    """Inside puff, _psycopg is built into the executable and has no file. Code that loads the
    module's C functions with ctypes (psycopg2's own tests do, from `_psycopg.__file__`) is
    pointed at the extension module built from the same sources and installed beside us."""
    if hasattr(_psycopg, "__file__"):
        return
    import glob
    import os
    import sysconfig
    here = os.path.dirname(os.path.abspath(__file__))
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    found = glob.glob(os.path.join(here, "_psycopg" + suffix))
    if found:
        _psycopg.__file__ = found[0]


_locate_c_entry_points()
