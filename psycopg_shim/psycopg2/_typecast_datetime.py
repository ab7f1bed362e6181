"""Casts of PostgreSQL's date/time output (DateStyle ISO, IntervalStyle postgres) to datetime.

The common shapes go through the C `fromisoformat` parsers; whatever they refuse (24:00:00,
BC, years past 9999, infinity, odd spacing) falls back to a parser that reproduces psycopg2's
results and errors for those inputs.
"""

import datetime
import re

from psycopg2._exceptions import DataError, NotSupportedError

_date_fromiso = datetime.date.fromisoformat
_datetime_fromiso = datetime.datetime.fromisoformat
_time_fromiso = datetime.time.fromisoformat
_timedelta = datetime.timedelta
_timezone = datetime.timezone

_INT_MAX = 2**31 - 1  # psycopg2 parses interval components into C ints

# hh:mm:ss[.frac][(+|-)tzh[:tzm[:tzs]]], as psycopg2 reads it; " BC" is stripped beforehand.
_TIME = re.compile(
    r"(\d+):(\d+):(\d+)(?:\.(\d*))?(?:([-+])(\d+)(?::(\d+)(?::(\d+))?)?)?\Z")


def cast_date(value, cursor):
    if value is None:
        return None
    try:
        return _date_fromiso(value)
    except ValueError:
        pass
    if value == "infinity":
        return datetime.date.max
    if value == "-infinity":
        return datetime.date.min
    year, month, day, _ = _split_date(value)
    return datetime.date(year, month, day)


def cast_time(value, cursor):
    """time and timetz; a zone offset goes through cursor.tzinfo_factory."""
    if value is None:
        return None
    try:
        parsed = _time_fromiso(value) if _has_seconds(value, 0) else None
    except ValueError:
        parsed = None
    if parsed is None:
        hour, minute, second, micro, offset = _split_time(value)
        return datetime.time(hour, minute, second, micro, _tzinfo(offset, cursor))
    return parsed if parsed.tzinfo is None else _with_factory_tz(parsed, cursor)


def cast_timestamp(value, cursor):
    if value is None:
        return None
    try:
        if _is_full_timestamp(value):
            return _datetime_fromiso(value)
    except ValueError:
        pass
    if value == "infinity":
        return datetime.datetime.max
    if value == "-infinity":
        return datetime.datetime.min
    return _parse_timestamp(value, cursor)


def cast_timestamptz(value, cursor):
    """The offset becomes cursor.tzinfo_factory(timedelta); a None factory gives naive values."""
    if value is None:
        return None
    try:
        parsed = _datetime_fromiso(value) if _is_full_timestamp(value) else None
    except ValueError:
        parsed = None
    if parsed is None:
        if value == "infinity" or value == "-infinity":
            limit = datetime.datetime.max if value == "infinity" else datetime.datetime.min
            # psycopg2 puts UTC on the limits whatever the factory, unless it is None.
            if getattr(cursor, "tzinfo_factory", _timezone) is None:
                return limit
            return limit.replace(tzinfo=_timezone.utc)
        return _parse_timestamp(value, cursor)
    return parsed if parsed.tzinfo is None else _with_factory_tz(parsed, cursor)


# fromisoformat also reads "13" or "13:30" as times; psycopg2 wants hours, minutes and seconds.
def _has_seconds(value, time_start):
    return value[time_start + 5:time_start + 6] == ":"


def _is_full_timestamp(value):
    return len(value) == 10 or _has_seconds(value, 11)  # a date alone, or date and full time


def _with_factory_tz(parsed, cursor):
    factory = getattr(cursor, "tzinfo_factory", _timezone)
    if factory is _timezone:
        return parsed  # fromisoformat already made the timezone(offset) psycopg2 would make
    if factory is None:
        return parsed.replace(tzinfo=None)
    return parsed.replace(tzinfo=factory(parsed.utcoffset()))


def _tzinfo(offset, cursor):
    if offset is None:
        return None
    factory = getattr(cursor, "tzinfo_factory", _timezone)
    return None if factory is None else factory(offset)


def _parse_timestamp(value, cursor):
    year, month, day, rest = _split_date(value)
    if not rest:
        return datetime.datetime(year, month, day)
    hour, minute, second, micro, offset = _split_time(rest)
    return datetime.datetime(year, month, day, hour, minute, second, micro,
                             _tzinfo(offset, cursor))


def _split_date(value):
    """(year, month, day, rest of the string): 'YYYY-MM-DD[ time][ BC]', BC as a negative year."""
    date_part, _, rest = value.partition(" ")
    fields = date_part.split("-")
    if len(fields) != 3 or not all(f.isdigit() for f in fields):
        raise DataError("unable to parse date")
    year, month, day = map(int, fields)
    if value.endswith("BC"):
        year = -year  # datetime refuses it, as in psycopg2 (ValueError)
    return year, month, day, rest


def _split_time(value):
    """(hour, minute, second, microsecond, utc offset or None), with psycopg2's adjustments."""
    if value.endswith(" BC"):
        value = value[:-3]
    match = _TIME.match(value.strip())
    if match is None:
        raise DataError("unable to parse time")
    hh, mm, ss, frac, sign, tzh, tzm, tzs = match.groups()
    hour, minute, second = int(hh), int(mm), int(ss)
    micro = int(frac) if frac else 0
    if micro and len(frac) < 6:
        micro *= 10 ** (6 - len(frac))
    if second > 59:  # a leap second moves into the next minute
        minute += 1
        second -= 60
    if hour == 24:  # '24:00:00' is midnight for psycopg2 (the day does not change)
        hour = 0
    offset = None
    if sign:
        seconds = int(tzh) * 3600 + int(tzm or 0) * 60 + int(tzs or 0)
        offset = _timedelta(seconds=-seconds if sign == "-" else seconds)
    return hour, minute, second, micro, offset


def cast_interval(value, cursor):
    """IntervalStyle 'postgres' output, read the way psycopg2 reads it.

    A month counts 30 days and a year 365; the sign in front of the time part covers all of it.
    """
    if value is None:
        return None
    if "P" in value:
        raise NotSupportedError("iso_8601 intervalstyle currently not supported")
    years = months = days = hours = minutes = seconds = micros = 0
    number = 0          # digits read so far
    sign = 1
    part = 0            # 0 start, 1 years, 2 months, 3 days, 4 hours, 5 minutes, 6 fraction
    frac_digits = 0
    i, end = 0, len(value)
    while i < end:
        ch = value[i]
        if "0" <= ch <= "9":
            number = number * 10 + ord(ch) - 48
            if number > _INT_MAX:
                return _interval_from_micros(value, too_big=True)
            if part == 6:
                frac_digits += 1
        elif ch == "-":
            sign = -1
        elif ch in "ymd" and part <= "ymd".index(ch):
            unit_value = number * sign
            if ch == "y":
                years = unit_value
            elif ch == "m":
                months = unit_value
            else:
                days = unit_value
            part = "ymd".index(ch) + 1
            number, sign = 0, 1
            space = value.find(" ", i)  # skip the rest of the unit's word
            i = end if space < 0 else space
        elif ch == ":":
            if part <= 3:
                hours, number, part = number, 0, 4
            elif part == 4:
                minutes, number, part = number, 0, 5
        elif ch == "." and part == 5:
            seconds, number, part = number, 0, 6
        i += 1
    if part == 0:
        return _interval_from_micros(value)
    if part == 4:
        minutes = number
    elif part == 5:
        seconds = number
    elif part == 6:
        micros = _scale_fraction(number, frac_digits)
    seconds += 60 * minutes + 3600 * hours
    if sign < 0:
        seconds, micros = -seconds, -micros
    return _timedelta(days + 30 * months + 365 * years, seconds, micros)


def _scale_fraction(number, digits):
    digits = min(digits, 9)  # psycopg2 stops counting the denominator at 10**9
    if digits <= 6:
        return number * 10 ** (6 - digits)
    return int(number / 10 ** digits * 1000000.0 + 0.5)


def _interval_from_micros(value, too_big=False):
    # Not an interval: Redshift sends a number of microseconds, which psycopg2 accepts.
    try:
        return _timedelta(0, 0, int(value, 0))
    except (ValueError, OverflowError):
        if too_big:
            raise OverflowError("interval component too big") from None
        raise
