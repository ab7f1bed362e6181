"""Parsing of set_session()/isolation_level values and the BEGIN statement they imply."""

from psycopg2._constants import ISOLATION_LEVEL_NAMES

DEFAULT = "default"  # a characteristic left to the server's default


def parse_isolation_level(value):
    """None / 1..4 / a level name / 'default' -> None (default) or 1..4."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 4:
            raise ValueError("isolation_level must be between 1 and 4")
        return value
    text = value.decode() if isinstance(value, bytes) else str(value)
    for level, name in ISOLATION_LEVEL_NAMES.items():
        if text.upper() == name:
            return level
    if text.lower() == "default":
        return None
    raise ValueError("bad value for isolation_level: '%s'" % text)


def parse_on_off(value):
    """None / 'default' -> None; anything else -> its truth value."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        if text.lower() == "default":
            return None
        raise ValueError("the only string accepted is 'default'; got %s" % text)
    return bool(value)


def begin_statement(isolation_level, readonly, deferrable):
    if isolation_level is None and readonly is None and deferrable is None:
        return b"BEGIN"
    parts = ["BEGIN"]
    if isolation_level is not None:
        parts.append(" ISOLATION LEVEL " + ISOLATION_LEVEL_NAMES[isolation_level])
    if readonly is not None:
        parts.append(" READ ONLY" if readonly else " READ WRITE")
    if deferrable is not None:
        parts.append(" DEFERRABLE" if deferrable else " NOT DEFERRABLE")
    return "".join(parts).encode()
