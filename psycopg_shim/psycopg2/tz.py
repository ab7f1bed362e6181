"""psycopg2.tz: tzinfo classes (a fixed UTC offset; the platform's local time zone).

psycopg2 2.9 casts timestamptz with `datetime.timezone`; these classes remain for code that
names them (e.g. as a cursor's tzinfo_factory).
"""

import datetime
import time

ZERO = datetime.timedelta(0)


class FixedOffsetTimezone(datetime.tzinfo):
    """A fixed offset from UTC: a timedelta, or a number of minutes east of UTC.

    Instances are shared: asking again for the same (offset, name) arguments returns the
    instance made the first time. The default name has the form ``+HH[:MM[:SS]]``.
    """

    _offset = ZERO
    _name = None
    _cache = {}  # (offset, name) as passed by the caller -> instance

    def __new__(cls, offset=None, name=None):
        key = (offset, name)
        instance = cls._cache.get(key)
        if instance is None:
            instance = cls._cache[key] = super().__new__(cls, offset, name)
        return instance

    def __init__(self, offset=None, name=None):
        if offset is not None:
            self._offset = (offset if isinstance(offset, datetime.timedelta)
                            else datetime.timedelta(minutes=offset))
        if name is not None:
            self._name = name

    def __repr__(self):
        return "psycopg2.tz.FixedOffsetTimezone(offset=%r, name=%r)" % (
            self._offset, self._name)

    def __eq__(self, other):
        if not isinstance(other, FixedOffsetTimezone):
            return NotImplemented
        return self._offset == other._offset

    def __ne__(self, other):
        if not isinstance(other, FixedOffsetTimezone):
            return NotImplemented
        return self._offset != other._offset

    # tzinfo.__reduce__ rebuilds the instance from these (pickling).
    def __getinitargs__(self):
        return self._offset, self._name

    def utcoffset(self, dt):
        return self._offset

    def dst(self, dt):
        return ZERO

    def tzname(self, dt):
        if self._name is not None:
            return self._name
        # Floor division as psycopg2 does: a negative offset that is not a whole number of
        # hours reads as psycopg2 shows it (-90 minutes -> "-02:30").
        minutes, seconds = divmod(self._offset.total_seconds(), 60)
        hours, minutes = divmod(minutes, 60)
        name = "%+03d" % hours
        if minutes or seconds:
            name += ":%02d" % minutes
            if seconds:
                name += ":%02d" % seconds
        return name


# The platform's offsets, read once at import (as psycopg2 does).
STDOFFSET = datetime.timedelta(seconds=-time.timezone)
DSTOFFSET = datetime.timedelta(seconds=-time.altzone) if time.daylight else STDOFFSET
DSTDIFF = DSTOFFSET - STDOFFSET


class LocalTimezone(datetime.tzinfo):
    """The platform's local time zone, daylight saving time included."""

    def utcoffset(self, dt):
        return DSTOFFSET if self._isdst(dt) else STDOFFSET

    def dst(self, dt):
        return DSTDIFF if self._isdst(dt) else ZERO

    def tzname(self, dt):
        return time.tzname[self._isdst(dt)]

    def _isdst(self, dt):
        # Let the C library decide (tm_isdst = -1) whether dt's wall time falls in DST.
        wall_time = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second,
                     dt.weekday(), 0, -1)
        return time.localtime(time.mktime(wall_time)).tm_isdst > 0


LOCAL = LocalTimezone()
