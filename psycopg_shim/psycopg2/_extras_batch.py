"""Running a statement for many argument sets in few round trips (psycopg2.extras).

Statements are built client side with `cursor.mogrify` and joined as bytes, so the text
sent is exactly what psycopg2 sends.
"""

import itertools
import re

from psycopg2.sql import Composable


def _paginate(iterable, page_size):
    """Yield lists of at most `page_size` consecutive items; never an empty one."""
    if page_size < 1:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
    items = iter(iterable)
    while True:
        page = list(itertools.islice(items, page_size))
        if not page:
            return
        yield page


def execute_batch(cur, sql, argslist, page_size=100):
    """Run `sql` once per argument set of `argslist`, `page_size` statements per round trip.

    Like `cur.executemany(sql, argslist)`, but the statements are joined with ';' and sent
    together; `cur.rowcount` is the count of the last statement only.
    """
    for page in _paginate(argslist, page_size):
        cur.execute(b";".join([cur.mogrify(sql, args) for args in page]))


def execute_values(cur, sql, argslist, template=None, page_size=100, fetch=False):
    """Run `sql` with its single `%s` replaced by a VALUES list built from `argslist`.

    Each item of `argslist` is merged into `template` (by default `(%s, ...)` with as many
    placeholders as the first item has values); at most `page_size` items per statement.
    `%%` in `sql` stands for '%'. With `fetch`, return the rows of all the statements
    (e.g. for RETURNING), otherwise None.
    """
    if isinstance(sql, Composable):
        sql = sql.as_string(cur)
    # Joined as bytes: the mogrified values are bytes in the connection's encoding.
    if not isinstance(sql, bytes):
        sql = sql.encode(cur.connection._codec)
    before, after = _split_sql(sql)
    prefix, suffix = b''.join(before), b''.join(after)

    rows = [] if fetch else None
    for page in _paginate(argslist, page_size):
        if template is None:
            template = b'(' + b','.join([b'%s'] * len(page[0])) + b')'
        values = b','.join([cur.mogrify(template, args) for args in page])
        cur.execute(prefix + values + suffix)
        if fetch:
            rows.extend(cur.fetchall())
    return rows


# A '%' and the character after it ('.' stops at a newline, as in psycopg2).
_format_spec = re.compile(rb'%.')


def _split_sql(sql):
    """Return the snippets of `sql` before and after its only `%s`, with `%%` as '%'."""
    before, after = [], []
    current = before
    position = 0
    for spec in _format_spec.finditer(sql):
        current.append(sql[position:spec.start()])
        position = spec.end()
        conversion = spec.group()[1:]
        if conversion == b's':
            if current is after:
                raise ValueError("the query contains more than one '%s' placeholder")
            current = after
        elif conversion == b'%':
            current.append(b'%')
        else:
            raise ValueError(
                "unsupported format character: '%s'" % conversion.decode('ascii', 'replace'))
    current.append(sql[position:])
    if current is before:
        raise ValueError("the query doesn't contain any '%s' placeholder")
    return before, after
