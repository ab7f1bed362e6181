"""psycopg2.sql: building SQL statements from pieces, each quoted as what it is.

`SQL` snippets are taken as written, `Identifier`s and `Literal`s are quoted for the
connection they are rendered for, `Placeholder`s become ``%s`` / ``%(name)s``.
"""

import string

# Modules, not names: _adapt may import this module while it is being initialised.
from psycopg2 import _adapt, _connection, _cursor

_template_parser = string.Formatter()


class Composable:
    """Something that renders as a piece of SQL with `as_string(context)`.

    `+` joins Composables into a `Composed`; `* n` repeats one.
    """

    def __init__(self, wrapped):
        self._wrapped = wrapped

    def __repr__(self):
        return f"{type(self).__name__}({self._wrapped!r})"

    def as_string(self, context):
        """The SQL text of the object; `context` is a connection or a cursor."""
        raise NotImplementedError

    def __add__(self, other):
        if isinstance(other, Composable):
            return Composed([self]) + other
        return NotImplemented

    def __mul__(self, n):
        return Composed([self] * n)

    def __eq__(self, other):
        return type(self) is type(other) and self._wrapped == other._wrapped

    def __ne__(self, other):
        return not self.__eq__(other)


class Composed(Composable):
    """A sequence of Composables, rendered one after the other."""

    def __init__(self, seq):
        items = list(seq)
        for item in items:
            if not isinstance(item, Composable):
                raise TypeError(f"Composed elements must be Composable, got {item!r} instead")
        super().__init__(items)

    @property
    def seq(self):
        return list(self._wrapped)

    def as_string(self, context):
        return "".join(item.as_string(context) for item in self._wrapped)

    def __iter__(self):
        return iter(self._wrapped)

    def __add__(self, other):
        if isinstance(other, Composed):
            return Composed(self._wrapped + other._wrapped)
        if isinstance(other, Composable):
            return Composed(self._wrapped + [other])
        return NotImplemented

    def join(self, joiner):
        """The items separated by `joiner` (an `SQL`, or a string taken as one)."""
        if isinstance(joiner, str):
            joiner = SQL(joiner)
        elif not isinstance(joiner, SQL):
            raise TypeError("Composed.join() argument must be a string or an SQL")
        return joiner.join(self)


class SQL(Composable):
    """A snippet of SQL, included as it is (never use it for values or names)."""

    def __init__(self, string):
        if not isinstance(string, str):
            raise TypeError("SQL values must be strings")
        super().__init__(string)

    @property
    def string(self):
        return self._wrapped

    def as_string(self, context):
        return self._wrapped

    def format(self, *args, **kwargs):
        """A `Composed` from this template, its ``{}`` fields replaced by Composables.

        Fields are auto-numbered (``{}``), numbered (``{0}``) or named (``{name}``), as in
        `str.format`, without conversions or format specs.
        """
        parts = []
        next_auto = 0  # index of the next {} field; None once a numbered field was seen
        for text, field, spec, conversion in _template_parser.parse(self._wrapped):
            if spec:
                raise ValueError("no format specification supported by SQL")
            if conversion:
                raise ValueError("no format conversion supported by SQL")
            if text:
                parts.append(SQL(text))
            if field is None:
                continue
            if field.isdigit():
                if next_auto:
                    raise ValueError("cannot switch from automatic field numbering to manual")
                parts.append(args[int(field)])
                next_auto = None
            elif not field:
                if next_auto is None:
                    raise ValueError("cannot switch from manual field numbering to automatic")
                parts.append(args[next_auto])
                next_auto += 1
            else:
                parts.append(kwargs[field])
        return Composed(parts)

    def join(self, seq):
        """The Composables of `seq` separated by this snippet, as a `Composed`."""
        parts = []
        for item in seq:
            if parts:
                parts.append(self)
            parts.append(item)
        return Composed(parts)


class Identifier(Composable):
    """A name (table, column...), or a qualified name when given several strings."""

    def __init__(self, *strings):
        if not strings:
            raise TypeError("Identifier cannot be empty")
        for part in strings:
            if not isinstance(part, str):
                raise TypeError("SQL identifier parts must be strings")
        super().__init__(strings)

    @property
    def strings(self):
        return self._wrapped

    @property
    def string(self):
        if len(self._wrapped) != 1:
            # psycopg2's message, word for word.
            raise AttributeError("the Identifier wraps more than one than one string")
        return self._wrapped[0]

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(map(repr, self._wrapped))})"

    def as_string(self, context):
        return ".".join(_adapt.quote_ident(part, context) for part in self._wrapped)


class Literal(Composable):
    """A value, quoted by the usual adaptation rules."""

    @property
    def wrapped(self):
        return self._wrapped

    def as_string(self, context):
        if isinstance(context, _connection.connection):
            conn = context
        elif isinstance(context, _cursor.cursor):
            conn = context.connection
        else:
            raise TypeError("context must be a connection or a cursor")
        return quote(self._wrapped, conn)  # looked up at call time: sql.quote is replaceable


def quote(obj, context=None):
    """The SQL literal of `obj` as a str, exactly as cursor.execute() would write it with the
    connection (or cursor) `context`, or without one. Literal.as_string() calls it through this
    module, so assigning `psycopg2.sql.quote` changes how every Literal is written."""
    if isinstance(context, _cursor.cursor):
        context = context.connection
    if context is not None and not isinstance(context, _connection.connection):
        raise TypeError("context must be a connection, a cursor or None")
    quoted = _adapt.mogrify(b"%s", (obj,), context)
    return quoted.decode(context._codec if context is not None else "utf-8")


class Placeholder(Composable):
    """A query parameter: ``%(name)s`` when named, else ``%s``."""

    def __init__(self, name=None):
        if isinstance(name, str):
            if ")" in name:
                raise ValueError(f"invalid name: {name!r}")
        elif name is not None:
            raise TypeError(f"expected string or None as name, got {name!r}")
        super().__init__(name)

    @property
    def name(self):
        return self._wrapped

    def __repr__(self):
        if self._wrapped is None:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}({self._wrapped!r})"

    def as_string(self, context):
        if self._wrapped is None:
            return "%s"
        return f"%({self._wrapped})s"


NULL = SQL("NULL")
DEFAULT = SQL("DEFAULT")
