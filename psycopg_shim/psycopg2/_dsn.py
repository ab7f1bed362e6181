"""Connection strings: parse_dsn, make_dsn (psycopg2.extensions); connect() is in _connect.py."""

import re

from psycopg2 import _psycopg
from psycopg2._exceptions import ProgrammingError

_NEEDS_ESCAPE = re.compile(r"([\\'])")
_HAS_SPACE = re.compile(r"\s")


def parse_dsn(dsn):
    """The keywords a libpq connection string (key=value or URI) sets, as a dict."""
    if isinstance(dsn, bytes):
        dsn = dsn.decode()
    if not isinstance(dsn, str):
        raise TypeError("parse_dsn() argument 1 must be str, not %s" % type(dsn).__name__)
    try:
        return _psycopg.parse_dsn(dsn)
    except ValueError as e:
        raise ProgrammingError("invalid dsn: %s" % e) from None


def _quote_value(value):
    # libpq's conninfo syntax: backslash-escape ' and \, single-quote values with spaces.
    if not value:
        return "''"
    value = _NEEDS_ESCAPE.sub(r"\\\1", value)
    return "'%s'" % value if _HAS_SPACE.search(value) else value


def make_dsn(dsn=None, **kwargs):
    """A connection string from a base dsn and keyword arguments (later ones win)."""
    if dsn is None and not kwargs:
        return ""
    if "database" in kwargs:
        if "dbname" in kwargs:
            raise TypeError("you can't specify both 'database' and 'dbname' arguments")
        kwargs["dbname"] = kwargs.pop("database")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if dsn is not None and not kwargs:
        parse_dsn(dsn)  # validate only: a dsn without extra keywords is passed as given
        return dsn
    params = parse_dsn(dsn) if dsn else {}
    params.update(kwargs)
    result = " ".join("%s=%s" % (k, _quote_value(str(v))) for k, v in params.items())
    parse_dsn(result)
    return result
