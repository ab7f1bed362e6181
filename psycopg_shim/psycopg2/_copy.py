"""The cursor's COPY methods (copy_from, copy_to, copy_expert) as psycopg2 2.9 has them, on the
native session's copy(query, read, write): data moves in chunks between the file and the
server, never the whole table in memory."""

import io
from operator import index as _as_int

from psycopg2._adapt import _quote_bytes_as_text, server_string_syntax
from psycopg2._adapt_protocol import c_type_name, ensure_bytes

DEFAULT_SIZE = 8192  # psycopg2's read size for COPY FROM


def copy_from(cursor, file, table, sep="\t", null="\\N", size=DEFAULT_SIZE, columns=None):
    texts = _text_arguments(table, sep, null)
    size = _as_int(size)
    query = _table_statement(cursor, "copy_from", file, "read", b"FROM stdin", texts, columns)
    _run(cursor, query, file, size)


def copy_to(cursor, file, table, sep="\t", null="\\N", columns=None):
    texts = _text_arguments(table, sep, null)
    query = _table_statement(cursor, "copy_to", file, "write", b"TO stdout", texts, columns)
    _run(cursor, query, file, DEFAULT_SIZE)


def copy_expert(cursor, sql, file, size=DEFAULT_SIZE):
    size = _as_int(size)
    _check_cursor(cursor, "copy_expert")
    from psycopg2._adapt import mogrify
    query = mogrify(sql, None, cursor.connection)  # str, bytes or sql.Composable, as execute()
    if not hasattr(file, "read") and not hasattr(file, "write"):
        raise TypeError("file must be a readable file-like object for COPY FROM; a writable "
                        "file-like object for COPY TO.")
    # Like psycopg2, any statement runs: one without COPY behaves as with execute().
    _run(cursor, query, file, size)


# ---- pieces ---------------------------------------------------------------------------------

def _run(cursor, query, file, size):
    codec = cursor.connection._codec
    cursor._copy(query, _reader(file, size, codec), _writer(file, codec))


def _reader(file, size, codec):
    """read() for the native copy: the file's next `size` chunk as bytes (text files' str is
    encoded in the connection's encoding); an exception here fails the COPY on the server."""
    def read():
        data = file.read(size)
        if isinstance(data, str):
            data = data.encode(codec)
        return data
    return read


def _writer(file, codec):
    """write(bytes) for the native copy: text files (io.TextIOBase) get str, others bytes."""
    if isinstance(file, io.TextIOBase):
        return lambda data: file.write(data.decode(codec))
    return lambda data: file.write(data)


def _check_cursor(cursor, method):
    cursor._check_usable()
    cursor.connection._check_not_prepared(method)


def _text_arguments(*values):
    # psycopg2 parses table, sep and null (arguments 2 to 4) as C strings: str only, no NUL.
    for position, value in enumerate(values, 2):
        if not isinstance(value, str):
            raise TypeError("argument %d must be str, not %s"
                            % (position, c_type_name(type(value))))
        if "\0" in value:
            raise ValueError("embedded null character")
    return values


def _table_statement(cursor, method, file, needs, direction, texts, columns):
    """copy_from/copy_to's checks, in psycopg2's order, and their COPY statement."""
    if not hasattr(file, needs):
        raise TypeError("argument 1 must have a .%s() method" % needs)
    _check_cursor(cursor, method)
    table, sep, null = texts
    return b"COPY %s%s %s WITH DELIMITER AS %s NULL AS %s" % (
        _identifier(table.encode()), _column_list(columns), direction,
        *_literals(cursor, sep, null))


def _identifier(name):
    # libpq's PQescapeIdentifier: double quotes around, inner ones doubled, cut at a NUL. psycopg2
    # 2.9 quotes the whole table name: "schema.table" names a table with a dot (copy_expert
    # takes a schema-qualified name).
    name = name.split(b"\0", 1)[0]
    return b'"' + name.replace(b'"', b'""') + b'"'


def _column_list(columns):
    if columns is None:
        return b""
    quoted = [_identifier(ensure_bytes(column)) for column in columns]
    return b"(" + b",".join(quoted) + b")" if quoted else b""


def _literals(cursor, *texts):
    syntax = server_string_syntax(cursor.connection)
    return [_quote_bytes_as_text(text.encode(), syntax) for text in texts]
