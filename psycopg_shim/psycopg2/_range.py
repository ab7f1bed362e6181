"""PostgreSQL range types: the `Range` classes, their adapters and typecasters.

At import the built-in range types (int4range, int8range, numrange, daterange, tsrange,
tstzrange) and their arrays are registered globally, as psycopg2 does.
"""

import re

from psycopg2._adapt import ISQLQuote, adapt, register_adapter
from psycopg2._catalog import _solve_conn_curs
from psycopg2._constants import STATUS_IN_TRANSACTION
from psycopg2._exceptions import InterfaceError, ProgrammingError
from psycopg2._typecast import new_array_type, new_type, register_type

_VALID_BOUNDS = ('[)', '(]', '()', '[]')


class Range:
    """A PostgreSQL range: `lower`/`upper` (None: unbound), `bounds` one of
    ``'[)'``, ``'(]'``, ``'()'``, ``'[]'``, or empty when `empty` is true.
    """

    __slots__ = ('_lower', '_upper', '_bounds')

    def __init__(self, lower=None, upper=None, bounds='[)', empty=False):
        if empty:
            # An empty range is told apart by its bounds being None.
            self._lower = self._upper = self._bounds = None
            return
        if bounds not in _VALID_BOUNDS:
            raise ValueError(f"bound flags not valid: {bounds!r}")
        self._lower = lower
        self._upper = upper
        self._bounds = bounds

    def __repr__(self):
        name = type(self).__name__
        if self._bounds is None:
            return f"{name}(empty=True)"
        return f"{name}({self._lower!r}, {self._upper!r}, {self._bounds!r})"

    def __str__(self):
        if self._bounds is None:
            return 'empty'
        return f"{self._bounds[0]}{str(self._lower)}, {str(self._upper)}{self._bounds[1]}"

    @property
    def lower(self):
        return self._lower

    @property
    def upper(self):
        return self._upper

    @property
    def isempty(self):
        return self._bounds is None

    @property
    def lower_inf(self):
        return self._bounds is not None and self._lower is None

    @property
    def upper_inf(self):
        return self._bounds is not None and self._upper is None

    @property
    def lower_inc(self):
        return self._lower is not None and self._bounds is not None and self._bounds[0] == '['

    @property
    def upper_inc(self):
        return self._upper is not None and self._bounds is not None and self._bounds[1] == ']'

    def __contains__(self, x):
        if self._bounds is None:
            return False
        if self._lower is not None:
            if x < self._lower if self._bounds[0] == '[' else x <= self._lower:
                return False
        if self._upper is not None:
            if x > self._upper if self._bounds[1] == ']' else x >= self._upper:
                return False
        return True

    def __bool__(self):
        return self._bounds is not None

    def _fields(self):
        return self._lower, self._upper, self._bounds

    def __eq__(self, other):
        return isinstance(other, Range) and self._fields() == other._fields()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self._fields())

    # An arbitrary but stable order (as PostgreSQL's): field by field, None first.
    def __lt__(self, other):
        if not isinstance(other, Range):
            return NotImplemented
        for mine, theirs in zip(self._fields(), other._fields(), strict=True):
            if mine == theirs:
                continue
            if mine is None:
                return True
            if theirs is None:
                return False
            return mine < theirs
        return False

    def __le__(self, other):
        return True if self == other else self.__lt__(other)

    def __gt__(self, other):
        if not isinstance(other, Range):
            return NotImplemented
        return other.__lt__(self)

    def __ge__(self, other):
        return True if self == other else self.__gt__(other)

    # Slots have no __dict__ to pickle: the state is the slots that are set.
    def __getstate__(self):
        return {slot: getattr(self, slot) for slot in Range.__slots__ if hasattr(self, slot)}

    def __setstate__(self, state):
        for slot, value in state.items():
            setattr(self, slot, value)


class NumericRange(Range):
    """int4range, int8range and numrange values (any Python numbers when adapting)."""


class DateRange(Range):
    """daterange values."""


class DateTimeRange(Range):
    """tsrange values."""


class DateTimeTZRange(Range):
    """tstzrange values."""


class RangeAdapter:
    """Adapts a `Range` as ``name(lower, upper, 'bounds')``.

    Abstract: subclasses set `name` (the PostgreSQL range type) or override `getquoted()`.
    """

    name = None
    _conn = None

    def __init__(self, adapted):
        self.adapted = adapted

    def __conform__(self, proto):
        if proto is ISQLQuote:
            return self

    def prepare(self, conn):
        self._conn = conn

    def _quote_bound(self, value):
        if value is None:
            return b'NULL'
        adapted = adapt(value)
        # Unprepared (getquoted() called directly) the bounds get their default quoting.
        if self._conn is not None and hasattr(adapted, 'prepare'):
            adapted.prepare(self._conn)
        return adapted.getquoted()

    def getquoted(self):
        if self.name is None:
            raise NotImplementedError(
                'RangeAdapter must be subclassed overriding its name or the getquoted() method')
        name = self.name.encode('utf8')
        r = self.adapted
        if r.isempty:
            return b"'empty'::" + name
        return b"%s(%s, %s, '%s')" % (
            name, self._quote_bound(r.lower), self._quote_bound(r.upper),
            r._bounds.encode('utf8'))


class NumberRangeAdapter(RangeAdapter):
    """Adapts a `NumericRange` as an untyped literal such as ``'[1,3)'``.

    PostgreSQL picks the range type from the context, so any Python number fits.
    """

    def getquoted(self):
        r = self.adapted
        if r.isempty:
            return b"'empty'"
        # Numbers quote the same whatever the connection: no prepare() needed.
        lower = b'' if r.lower_inf else adapt(r.lower).getquoted()
        upper = b'' if r.upper_inf else adapt(r.upper).getquoted()
        return b"'%s%s,%s%s'" % (
            r._bounds[0].encode('ascii'), lower, upper, r._bounds[1].encode('ascii'))


# A range's text form: the bound flags around two optional bounds, each either quoted
# (doubled quotes and backslashes inside) or bare.
_RANGE_TEXT = re.compile(r"""
    (?P<lower_flag> [(\[] )
    (?: " (?P<lower_quoted> (?: [^"] | "" )* ) " | (?P<lower> [^",]+ ) )?
    ,
    (?: " (?P<upper_quoted> (?: [^"] | "" )* ) " | (?P<upper> [^")\]]+ ) )?
    (?P<upper_flag> [)\]] )
    """, re.VERBOSE)

_DOUBLED_CHAR = re.compile(r'""|\\\\')


def _range_bound(match, bare_group, quoted_group):
    bare = match.group(bare_group)
    if bare is not None:
        return bare
    quoted = match.group(quoted_group)
    if quoted is None:
        return None
    return _DOUBLED_CHAR.sub(lambda doubled: doubled.group()[0], quoted)


class RangeCaster:
    """Converts between a PostgreSQL range type and a `Range` subclass.

    `pgrange`: the PostgreSQL type name (or a `RangeAdapter` strict subclass);
    `pyrange`: a `Range` strict subclass, or the name of one to create (then in `range`).
    `register_range()` makes one from the catalog; build one directly when the oids are known.
    """

    def __init__(self, pgrange, pyrange, oid, subtype_oid, array_oid=None):
        self.subtype_oid = subtype_oid
        self.adapter = self._adapter_class(pgrange)
        self.range = self._range_class(pyrange)
        # For an adapter class without a name psycopg2 names the casters after its
        # metaclass ("type"); the names show in the casters' reprs.
        name = self.adapter.name or self.adapter.__class__.__name__
        self.typecaster = new_type((oid,), name, self.parse)
        self.array_typecaster = (None if array_oid is None else
                                 new_array_type((array_oid,), name + "ARRAY", self.typecaster))

    @staticmethod
    def _adapter_class(pgrange):
        if isinstance(pgrange, str):
            # A RangeAdapter subclass named after the type.
            return type(pgrange, (RangeAdapter,), {'name': pgrange})
        if (isinstance(pgrange, type) and issubclass(pgrange, RangeAdapter)
                and pgrange is not RangeAdapter):
            return pgrange
        raise TypeError('pgrange must be a string or a RangeAdapter strict subclass')

    @staticmethod
    def _range_class(pyrange):
        if isinstance(pyrange, str):
            return type(pyrange, (Range,), {})
        if isinstance(pyrange, type) and issubclass(pyrange, Range) and pyrange is not Range:
            return pyrange
        raise TypeError('pyrange must be a type or a Range strict subclass')

    @classmethod
    def _from_db(cls, name, pyrange, conn_or_curs):
        """A RangeCaster for the range type `name`, its oids read from the catalog."""
        conn, curs = _solve_conn_curs(conn_or_curs)
        if conn.server_version < 90200:
            raise ProgrammingError(
                "range types not available in version %s" % conn.server_version)
        status_before = conn.status

        if '.' in name:
            schema, type_name = name.split('.', 1)
        else:
            schema, type_name = 'public', name
        curs.execute(
            "SELECT r.rngtypid, r.rngsubtype, t.typarray FROM pg_range r"
            " JOIN pg_type t ON t.oid = r.rngtypid"
            " JOIN pg_namespace ns ON ns.oid = t.typnamespace"
            " WHERE t.typname = %s AND ns.nspname = %s", (type_name, schema))
        record = curs.fetchone()
        if not record:
            # Not in that schema: let the server resolve the name (search_path included).
            # Kept second so that lookups that worked before give the same type.
            record = cls._resolve_with_regtype(conn, curs, name, STATUS_IN_TRANSACTION)

        if status_before != STATUS_IN_TRANSACTION and not conn.autocommit:
            conn.rollback()  # leave the connection idle as it was found
        if not record:
            raise ProgrammingError(f"PostgreSQL range '{name}' not found")
        oid, subtype_oid, array_oid = record[:3]
        # psycopg2 builds a plain RangeCaster here, even when called on a subclass.
        return RangeCaster(name, pyrange, oid=oid, subtype_oid=subtype_oid, array_oid=array_oid)

    @staticmethod
    def _resolve_with_regtype(conn, curs, name, in_transaction):
        # A failed cast to regtype would abort the transaction: fence it with a savepoint.
        savepoint = False
        try:
            if conn.status == in_transaction:
                curs.execute("SAVEPOINT register_type")
                savepoint = True
            curs.execute(
                "SELECT r.rngtypid, r.rngsubtype, t.typarray FROM pg_range r"
                " JOIN pg_type t ON t.oid = r.rngtypid"
                " WHERE t.oid = %s::regtype", (name,))
            return curs.fetchone()
        except ProgrammingError:
            return None
        finally:
            if savepoint:
                curs.execute("ROLLBACK TO SAVEPOINT register_type")

    def parse(self, s, cur=None):
        """Typecaster: the range text `s` as a `self.range` instance (None stays None)."""
        if s is None:
            return None
        if s == 'empty':
            return self.range(empty=True)
        match = _RANGE_TEXT.match(s)
        if match is None:
            raise InterfaceError(f"failed to parse range: '{s}'")
        lower = _range_bound(match, 'lower', 'lower_quoted')
        upper = _range_bound(match, 'upper', 'upper_quoted')
        if cur is not None:
            lower = cur.cast(self.subtype_oid, lower)
            upper = cur.cast(self.subtype_oid, upper)
        return self.range(lower, upper, match.group('lower_flag') + match.group('upper_flag'))

    def _register(self, scope=None):
        register_type(self.typecaster, scope)
        if self.array_typecaster is not None:
            register_type(self.array_typecaster, scope)
        register_adapter(self.range, self.adapter)


def register_range(pgrange, pyrange, conn_or_curs, globally=False):
    """Register casting of the PostgreSQL range type `pgrange` (a name, possibly
    schema-qualified) to `pyrange` (a `Range` strict subclass, or a name for a new one),
    and adaptation back.

    The oids are read through `conn_or_curs`; the typecasters are registered on it, or
    globally if `globally`. Raises ProgrammingError if the type does not exist. Returns
    the `RangeCaster`.
    """
    caster = RangeCaster._from_db(pgrange, pyrange, conn_or_curs)
    caster._register(None if globally else (conn_or_curs or None))
    return caster


register_adapter(NumericRange, NumberRangeAdapter)

int4range_caster = RangeCaster(NumberRangeAdapter, NumericRange,
                               oid=3904, subtype_oid=23, array_oid=3905)
int8range_caster = RangeCaster(NumberRangeAdapter, NumericRange,
                               oid=3926, subtype_oid=20, array_oid=3927)
numrange_caster = RangeCaster(NumberRangeAdapter, NumericRange,
                              oid=3906, subtype_oid=1700, array_oid=3907)
daterange_caster = RangeCaster('daterange', DateRange,
                               oid=3912, subtype_oid=1082, array_oid=3913)
tsrange_caster = RangeCaster('tsrange', DateTimeRange,
                             oid=3908, subtype_oid=1114, array_oid=3909)
tstzrange_caster = RangeCaster('tstzrange', DateTimeTZRange,
                               oid=3910, subtype_oid=1184, array_oid=3911)
for _caster in (int4range_caster, int8range_caster, numrange_caster,
                daterange_caster, tsrange_caster, tstzrange_caster):
    _caster._register()
del _caster
