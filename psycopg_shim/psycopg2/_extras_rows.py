"""Cursors returning rows as dict-like objects or named tuples (psycopg2.extras).

They rely on the cursor's `row_factory` contract (see README.md): a row is built as
`row = row_factory(cursor)`, then `row[i] = value` for every column in order.
"""

import copyreg
import functools
import re
import string
from collections import OrderedDict, namedtuple

from psycopg2._connection import connection as _connection
from psycopg2._cursor import cursor as _cursor


class DictCursorBase(_cursor):
    """Base class of the cursors whose rows are built by a row factory.

    Subclasses pass `row_factory` and provide `_build_index()`, which records the column
    names of the last query once its description is known.
    """

    def __init__(self, *args, **kwargs):
        try:
            row_factory = kwargs.pop('row_factory')
        except KeyError:
            raise NotImplementedError(
                "DictCursorBase can't be instantiated without a row factory.") from None
        super().__init__(*args, **kwargs)
        self._query_executed = False
        # With prefetch the rows are fetched before the index is built: a named cursor
        # only has a description once something has been fetched.
        self._prefetch = False
        self.row_factory = row_factory

    def _fetch_indexed(self, fetch, *args):
        """Call `fetch(*args)`, building the column index first unless prefetching."""
        if self._prefetch:
            result = fetch(*args)
        if self._query_executed:
            self._build_index()
        if not self._prefetch:
            result = fetch(*args)
        return result

    def fetchone(self):
        return self._fetch_indexed(super().fetchone)

    def fetchmany(self, size=None):
        return self._fetch_indexed(super().fetchmany, size)

    def fetchall(self):
        return self._fetch_indexed(super().fetchall)

    def __iter__(self):
        def first_row():
            rows = super(DictCursorBase, self).__iter__()
            return rows, next(rows)

        # next() only: the base iterator is the cursor itself, and iter() on it would
        # come back to this method.
        try:
            rows, row = self._fetch_indexed(first_row)
            while True:
                yield row
                row = next(rows)
        except StopIteration:
            return


class DictConnection(_connection):
    """A connection whose cursors are `DictCursor` unless told otherwise."""

    def cursor(self, *args, **kwargs):
        kwargs.setdefault('cursor_factory', self.cursor_factory or DictCursor)
        return super().cursor(*args, **kwargs)


class DictCursor(DictCursorBase):
    """A cursor returning `DictRow`: lists also indexable by column name."""

    def __init__(self, *args, **kwargs):
        kwargs['row_factory'] = DictRow
        super().__init__(*args, **kwargs)
        self._prefetch = True

    def execute(self, query, vars=None):
        # A fresh mapping: rows of the previous query keep theirs.
        self.index = OrderedDict()
        self._query_executed = True
        return super().execute(query, vars)

    def callproc(self, procname, vars=None):
        self.index = OrderedDict()
        self._query_executed = True
        return super().callproc(procname, vars)

    def _build_index(self):
        if self._query_executed and self.description:
            # Filled in place: rows built before this call share the mapping.
            for position, column in enumerate(self.description):
                self.index[column[0]] = position
            self._query_executed = False


class DictRow(list):
    """A row that is a list, also accessible by column name like a mapping."""

    __slots__ = ('_index',)

    def __init__(self, cursor):
        self._index = cursor.index
        self[:] = [None] * len(cursor.description)

    def _position(self, key):
        return key if isinstance(key, (int, slice)) else self._index[key]

    def __getitem__(self, key):
        return super().__getitem__(self._position(key))

    def __setitem__(self, key, value):
        super().__setitem__(self._position(key), value)

    def keys(self):
        return iter(self._index)

    def values(self):
        value_at = super().__getitem__
        return (value_at(position) for position in self._index.values())

    def items(self):
        value_at = super().__getitem__
        return ((name, value_at(position)) for name, position in self._index.items())

    def get(self, key, default=None):
        try:
            return self[key]
        except Exception:
            return default

    def copy(self):
        return OrderedDict(self.items())

    def __contains__(self, key):
        # Membership is on column names, as for a mapping.
        return key in self._index

    def __reduce__(self):
        # The protocol-0 style reduction for every protocol: the default one for
        # protocol >= 2 would append the items again after __setstate__ restored them.
        return copyreg._reconstructor, (type(self), list, list(self)), self.__getstate__()

    def __getstate__(self):
        return self[:], self._index.copy()

    def __setstate__(self, state):
        self[:], self._index = state


class RealDictConnection(_connection):
    """A connection whose cursors are `RealDictCursor` unless told otherwise."""

    def cursor(self, *args, **kwargs):
        kwargs.setdefault('cursor_factory', self.cursor_factory or RealDictCursor)
        return super().cursor(*args, **kwargs)


class RealDictCursor(DictCursorBase):
    """A cursor returning `RealDictRow`: real dicts, not accessible by position."""

    def __init__(self, *args, **kwargs):
        kwargs['row_factory'] = RealDictRow
        super().__init__(*args, **kwargs)

    def execute(self, query, vars=None):
        self.column_mapping = []
        self._query_executed = True
        return super().execute(query, vars)

    def callproc(self, procname, vars=None):
        self.column_mapping = []
        self._query_executed = True
        return super().callproc(procname, vars)

    def _build_index(self):
        if self._query_executed and self.description:
            self.column_mapping = [column[0] for column in self.description]
            self._query_executed = False


class RealDictRow(OrderedDict):
    """A dict holding a record, keyed by column name.

    Built from a cursor, the first len(columns) assignments are by column position (as
    the cursor fills rows); after that the row is a plain ordered dict.
    """

    def __init__(self, *args, **kwargs):
        cursor = None
        if args and isinstance(args[0], _cursor):
            cursor, args = args[0], args[1:]
        super().__init__(*args, **kwargs)
        if cursor is not None:
            if cursor.description and not cursor.column_mapping:
                # Named cursors learn their description only at the first fetch.
                cursor._build_index()
            # The mapping is kept in the row itself, under a key no column can have,
            # so that a finished row carries no extra attribute (pickling, copies).
            self[RealDictRow] = cursor.column_mapping

    def __setitem__(self, key, value):
        if RealDictRow not in self:
            super().__setitem__(key, value)
            return
        columns = self[RealDictRow]
        super().__setitem__(columns[key], value)
        if key == len(columns) - 1:
            del self[RealDictRow]


class NamedTupleConnection(_connection):
    """A connection whose cursors are `NamedTupleCursor` unless told otherwise."""

    def cursor(self, *args, **kwargs):
        kwargs.setdefault('cursor_factory', self.cursor_factory or NamedTupleCursor)
        return super().cursor(*args, **kwargs)


# Printable ASCII that cannot appear in an identifier ('_' can).
_re_clean = re.compile('[' + re.escape(string.punctuation.replace('_', '') + ' ') + ']')


class NamedTupleCursor(_cursor):
    """A cursor returning rows as `collections.namedtuple` instances named `Record`.

    Column names become field names: ASCII punctuation and spaces are replaced by '_' and
    names starting with '_' or a digit get an 'f' prefix. Names namedtuple still rejects
    (keywords, duplicates) raise ValueError when the rows are fetched.
    """

    Record = None
    MAX_CACHE = 1024

    def execute(self, query, vars=None):
        self.Record = None
        return super().execute(query, vars)

    def executemany(self, query, vars):
        self.Record = None
        return super().executemany(query, vars)

    def callproc(self, procname, vars=None):
        self.Record = None
        return super().callproc(procname, vars)

    def _record_class(self):
        if self.Record is None:
            self.Record = self._make_nt()
        return self.Record

    def fetchone(self):
        row = super().fetchone()
        if row is not None:
            return self._record_class()._make(row)

    def fetchmany(self, size=None):
        rows = super().fetchmany(size)
        return list(map(self._record_class()._make, rows))

    def fetchall(self):
        rows = super().fetchall()
        return list(map(self._record_class()._make, rows))

    def __iter__(self):
        # next() only: the base iterator is the cursor itself, and iter() on it would
        # come back to this method.
        rows = super().__iter__()
        try:
            row = next(rows)
            # Only now: a named cursor has no description before its first fetch.
            make = self._record_class()._make
            while True:
                yield make(row)
                row = next(rows)
        except StopIteration:
            return

    def _make_nt(self):
        names = tuple(column[0] for column in self.description) if self.description else ()
        return self._cached_make_nt(names)

    @classmethod
    def _do_make_nt(cls, names):
        fields = []
        for name in names:
            name = _re_clean.sub('_', name)
            if name[0] == '_' or '0' <= name[0] <= '9':
                name = 'f' + name
            fields.append(name)
        return namedtuple("Record", fields)

    # Queries repeat: share the Record classes between cursors and executions.
    @classmethod
    @functools.lru_cache(maxsize=512)
    def _cached_make_nt(cls, names):
        return cls._do_make_nt(names)
