"""Is this object a connection or a cursor? For the layers below those classes.

register_type, quote_ident and the cursor's constructor take "a connection or a cursor" and
must tell them apart, but they sit below `_connection` and `_cursor` in the import order (see
psycopg_shim/README.md, "Layers"). Those modules register their class here when they load; an
instance cannot exist before its class's module has run, so an unregistered class never hides
a real connection or cursor.
"""

_connection_classes = ()
_cursor_classes = ()


def register_connection_class(cls):
    global _connection_classes
    _connection_classes = (cls,)


def register_cursor_class(cls):
    global _cursor_classes
    _cursor_classes = (cls,)


def is_connection(obj):
    """True for a psycopg2.extensions.connection (or subclass) instance."""
    return isinstance(obj, _connection_classes)


def is_cursor(obj):
    """True for a psycopg2.extensions.cursor (or subclass) instance."""
    return isinstance(obj, _cursor_classes)
