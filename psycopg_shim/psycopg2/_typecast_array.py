"""Parsing of PostgreSQL's array output ('{1,2}', '{{"a b",NULL}}', '[0:1]={1,2}') into lists."""

import decimal
import re

from psycopg2._exceptions import DataError

_MAX_DIMENSIONS = 16  # psycopg2's limit
_BACKSLASH_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_FAST_PATH_FORBIDDEN = re.compile(r'[{}"\\]')
# Element conversions of built-in casters that need no cursor, by the caster's `native`.
_PLAIN_CONVERSIONS = {"int": int, "float": float, "decimal": decimal.Decimal, "text": str}


def cast_array(base, delimiter, value, cursor):
    """A list (nested for several dimensions) of `base`'s casts of the elements.

    `base` is the element TypeCaster; NULL elements are passed to it as None.
    """
    if value is None:
        return None
    if value[:1] == "[":
        value = _without_bounds(value)
    if value[:1] != "{":
        raise DataError("array does not start with '{'")
    if len(value) == 1:
        raise DataError("malformed array: '{'")
    inner = value[1:-1]  # psycopg2 takes the last character for the closing brace
    if not _FAST_PATH_FORBIDDEN.search(inner):
        # One dimension, nothing quoted: most arrays, split in one go.
        if not inner:
            return []
        tokens = inner.split(delimiter)
        convert = _PLAIN_CONVERSIONS.get(base.native)
        if convert is not None and "null" not in inner.lower():
            return list(map(convert, tokens))
        cast = base._cast
        return [cast(None if len(token) == 4 and token.lower() == "null" else token, cursor)
                for token in tokens]
    return _scan(inner, delimiter, base._cast, cursor)


def _without_bounds(value):
    # '[0:1][2:3]={...}': the lower bounds are dropped (psycopg2 drops one, fails on more).
    equals = value.find("=")
    if equals < 0 or value.rfind("]", 0, equals) != equals - 1:
        return value
    return value[equals + 1:]


def _scan(text, delimiter, cast, cursor):
    result = []
    stack = []
    current = result
    pos, end = 0, len(text)
    while pos < end:
        ch = text[pos]
        if ch == "{":
            if len(stack) == _MAX_DIMENSIONS:
                raise DataError("excessive array dimensions")
            sub = []
            current.append(sub)
            stack.append(current)
            current = sub
            pos += 1
            continue
        if ch == "}":
            if not stack:
                raise DataError("unbalanced braces in array")
            current = stack.pop()
            pos += 1
            if pos < end and text[pos] == delimiter:
                pos += 1
            continue
        stop, escaped = _token_end(text, pos, delimiter)
        quoted = ch == '"'
        token = text[pos + 1:stop - 1] if quoted else text[pos:stop]
        if escaped:
            token = _BACKSLASH_ESCAPE.sub(r"\1", token)
        if not quoted and len(token) == 4 and token.lower() == "null":
            token = None
        current.append(cast(token, cursor))
        pos = stop + 1 if stop < end and text[stop] == delimiter else stop
    return result


def _token_end(text, pos, delimiter):
    """Index of the delimiter or '}' closing the element at `pos`; and whether it has escapes."""
    in_quotes = False
    escaped = False
    i, end = pos, len(text)
    while i < end:
        ch = text[i]
        if ch == "\\":
            escaped = True
            i += 2
            continue
        if ch == '"':
            in_quotes = not in_quotes
        elif (ch == delimiter or ch == "}") and not in_quotes:
            break
        i += 1
    return min(i, end), escaped
