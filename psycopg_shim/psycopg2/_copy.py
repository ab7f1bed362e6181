"""The cursor's COPY methods (copy_from, copy_to, copy_expert) as psycopg2 2.9 has them, on the
native session's copy(query, read, write): data moves in chunks between the file and the
server, never the whole table in memory."""

import io
from operator import index as _as_int

from psycopg2._adapt import _quote_bytes_as_text, server_string_syntax
from psycopg2._adapt_protocol import c_type_name, ensure_bytes

DEFAULT_SIZE = 8192  # psycopg2's read size for COPY FROM


def copy_from(cursor, file, table, sep="\t", null="\\N", size=DEFAULT_SIZE, columns=None):
    table, sep, null = _text_argument(table, 2), _text_argument(sep, 3), _text_argument(null, 4)
    size = _as_int(size)
    if not hasattr(file, "read"):
        raise TypeError("argument 1 must have a .read() method")
    _check_cursor(cursor, "copy_from")
    query = b"COPY %s%s FROM stdin WITH DELIMITER AS %s NULL AS %s" % (
        _identifier(table.encode()), _column_list(columns), *_literals(cursor, sep, null))
    _run(cursor, query, file, size)


def copy_to(cursor, file, table, sep="\t", null="\\N", columns=None):
    table, sep, null = _text_argument(table, 2), _text_argument(sep, 3), _text_argument(null, 4)
    if not hasattr(file, "write"):
        raise TypeError("argument 1 must have a .write() method")
    _check_cursor(cursor, "copy_to")
    query = b"COPY %s%s TO stdout WITH DELIMITER AS %s NULL AS %s" % (
        _identifier(table.encode()), _column_list(columns), *_literals(cursor, sep, null))
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


def _text_argument(value, position):
    # psycopg2 parses these as C strings ("s"): str only, without NUL.
    if not isinstance(value, str):
        raise TypeError("argument %d must be str, not %s" % (position, c_type_name(type(value))))
    if "\0" in value:
        raise ValueError("embedded null character")
    return value


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
