"""psycopg2's adaptation protocol: `ISQLQuote`, the `adapters` registry, `adapt()`, and what
the built-in adapters share.
"""

from psycopg2._exceptions import ProgrammingError

_EXTENSIONS = "psycopg2.extensions"
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE


def c_type_name(cls):
    """The name CPython's C API reports for a type (tp_name): dotted for C extension types."""
    module = cls.__module__
    if cls.__flags__ & _HEAPTYPE or module == "builtins":
        return cls.__name__
    return "%s.%s" % (module, cls.__name__)


class ISQLQuote:
    """The protocol of SQL quoting: an adapter to it has `getquoted()`, returning the object
    as a SQL literal (bytes). Used as the protocol argument of `adapt()` and `__conform__`."""

    __module__ = _EXTENSIONS
    __slots__ = ("_wrapped_object",)

    def __init__(self, wrapped, /):
        self._wrapped_object = wrapped

    @property
    def _wrapped(self):
        return self._wrapped_object

    def getquoted(self):
        """The SQL literal of the wrapped object (None here: subclasses provide it)."""
        return None

    def getbinary(self):
        """The binary form of the wrapped object (None here)."""
        return None

    def getbuffer(self):
        """The buffer of the wrapped object (None here)."""
        return None


# (type, protocol) -> callable building the adapter of an object of that type.
adapters = {}


def register_adapter(typ, callable):
    """Make `callable(obj)` the adapter of the objects of exactly type `typ` (and of its
    subclasses that have no adapter of their own)."""
    adapters[(typ, ISQLQuote)] = callable


def adapt(obj, protocol=ISQLQuote, alternate=None, /):
    """The adapter of `obj` to `protocol`; ProgrammingError if there is none."""
    # psycopg2's order: the exact type, the protocol's __adapt__, the object's __conform__,
    # then the types of the MRO. `alternate` is accepted and ignored, as psycopg2 does.
    cls = type(obj)
    adapter = adapters.get((cls, protocol))
    if adapter is not None:
        return adapter(obj)
    for method, argument in ((attribute_or_none(protocol, "__adapt__"), obj),
                             (attribute_or_none(obj, "__conform__"), protocol)):
        if method is not None:
            try:
                adapted = method(argument)
            except TypeError:
                adapted = None
            if adapted is not None:
                return adapted
    for base in cls.__mro__[1:]:
        adapter = adapters.get((base, protocol))
        if adapter is not None:
            return adapter(obj)
    raise ProgrammingError("can't adapt type '%s'" % c_type_name(cls))


def attribute_or_none(obj, name):
    try:
        return getattr(obj, name)
    except Exception:  # psycopg2 clears any error of the lookup
        return None


class BaseAdapter:
    """What psycopg2's adapters share: the wrapped object and the ISQLQuote conformance."""

    __slots__ = ("_wrapped",)

    def __init__(self, wrapped, /):
        self._wrapped = wrapped

    @property
    def adapted(self):
        return self._wrapped

    def __conform__(self, proto):
        return self if proto is ISQLQuote else None

    def __str__(self):
        return self.getquoted().decode("utf-8", "replace")


# ---- psycopg2's C argument conventions ------------------------------------------------------

def as_double(value):
    # What C's "d" argument conversion accepts: a float, or an object with __float__/__index__.
    if isinstance(value, float):
        return float.__float__(value)
    if hasattr(type(value), "__float__") or hasattr(type(value), "__index__"):
        return float(value)
    raise TypeError("must be real number, not %s" % c_type_name(type(value)))


def ensure_bytes(value):
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError("Expected bytes or unicode string, got %s instead" % c_type_name(type(value)))
