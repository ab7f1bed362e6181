"""psycopg2's adapter of dates, times and intervals, and the DB-API date/time constructors."""

import datetime as _dt
import math
import time as _time

from psycopg2._adapt_protocol import BaseAdapter, as_double, c_type_name, ensure_bytes
from psycopg2._exceptions import InterfaceError

_PSYCOPG = "psycopg2._psycopg"

# psycopg2's codes for what a `datetime` adapter wraps (its `type` attribute).
_TIME, _DATE, _TIMESTAMP, _INTERVAL = 0, 1, 2, 3


def quote_date(value):
    return b"'" + ensure_bytes(value.isoformat()) + b"'::date"


def quote_time(value):
    cast = b"'::time" if value.tzinfo is None else b"'::timetz"
    return b"'" + ensure_bytes(value.isoformat()) + cast


def quote_timestamp(value):
    cast = b"'::timestamp" if value.tzinfo is None else b"'::timestamptz"
    return b"'" + ensure_bytes(value.isoformat()) + cast


def quote_interval(value):
    return ("'%d days %d.%06d seconds'::interval"
            % (value.days, value.seconds, value.microseconds)).encode("ascii")


_DATETIME_QUOTERS = {_TIME: quote_time, _DATE: quote_date, _TIMESTAMP: quote_timestamp}


class _DateTimeAdapter(BaseAdapter):
    """Adapter of a date, time, datetime or timedelta; `type` says which (psycopg2's codes)."""

    __module__ = _PSYCOPG
    __qualname__ = "datetime"
    __slots__ = ("_type",)

    def __init__(self, wrapped, type=-1, /):
        self._wrapped = wrapped
        self._type = type

    @property
    def type(self):
        return self._type

    def getquoted(self):
        """The SQL literal, with its cast, as bytes."""
        return _DATETIME_QUOTERS.get(self._type, quote_interval)(self._wrapped)


_DateTimeAdapter.__name__ = "datetime"


def _checked(value, cls):
    if not isinstance(value, cls):
        raise TypeError("argument 1 must be %s, not %s"
                        % (c_type_name(cls), c_type_name(type(value))))
    return value


def DateFromPy(date, /):
    """The adapter of a `datetime.date`, quoted as a SQL date."""
    return _DateTimeAdapter(_checked(date, _dt.date), _DATE)


def TimeFromPy(time, /):
    """The adapter of a `datetime.time`, quoted as a SQL time (timetz when aware)."""
    return _DateTimeAdapter(_checked(time, _dt.time), _TIME)


def TimestampFromPy(datetime, /):
    """The adapter of a `datetime.datetime`, quoted as timestamp (timestamptz when aware)."""
    return _DateTimeAdapter(_checked(datetime, _dt.datetime), _TIMESTAMP)


def IntervalFromPy(interval, /):
    """The adapter of a `datetime.timedelta`, quoted as a SQL interval."""
    return _DateTimeAdapter(_checked(interval, _dt.timedelta), _INTERVAL)


def Date(year, month, day, /):
    """DB-API constructor: the adapter of that date."""
    return _DateTimeAdapter(_dt.date(year, month, day), _DATE)


def _split_seconds(seconds):
    # Whole seconds and microseconds, rounded half away from zero as C's round().
    seconds = as_double(seconds)
    whole = math.floor(seconds)
    micro = (seconds - whole) * 1000000.0
    rounded = math.floor(micro)
    if micro - rounded >= 0.5:
        rounded += 1
    return int(whole), rounded


def Time(hour, minute, second, tzinfo=None, /):
    """DB-API constructor: the adapter of that time (`second` may have a fraction)."""
    second, micro = _split_seconds(second)
    return _DateTimeAdapter(_dt.time(hour, minute, second, micro, tzinfo), _TIME)


def Timestamp(year, month, day, hour=0, minute=0, second=0.0, tzinfo=None, /):
    """DB-API constructor: the adapter of that datetime (`second` may have a fraction)."""
    second, micro = _split_seconds(second)
    value = _dt.datetime(year, month, day, hour, minute, second, micro, tzinfo)
    return _DateTimeAdapter(value, _TIMESTAMP)


def _local_time(ticks):
    ticks = as_double(ticks)
    try:
        whole = math.floor(ticks)
        return _time.localtime(whole), ticks - whole
    except (OverflowError, OSError, ValueError):
        raise InterfaceError("failed localtime call") from None


def DateFromTicks(ticks, /):
    """DB-API constructor: the adapter of the local date at that Unix time."""
    local, _ = _local_time(ticks)
    return Date(local.tm_year, local.tm_mon, local.tm_mday)


def TimeFromTicks(ticks, /):
    """DB-API constructor: the adapter of the local time of day at that Unix time."""
    local, fraction = _local_time(ticks)
    return Time(local.tm_hour, local.tm_min, local.tm_sec + fraction)


def TimestampFromTicks(ticks, /):
    """DB-API constructor: the adapter of that Unix time as an aware local datetime."""
    local, fraction = _local_time(ticks)
    adapter = Timestamp(local.tm_year, local.tm_mon, local.tm_mday, local.tm_hour,
                        local.tm_min, local.tm_sec + fraction)
    # psycopg2 returns the local time with its UTC offset.
    adapter._wrapped = adapter._wrapped.astimezone()
    return adapter
