"""Storage private to each greenlet, for Django's per-"thread" connections.

Django keeps its database connections in an asgiref Local, which is per thread (and per
context): every greenlet of puff's hub runs on one thread, and a spawned task starts with a
copy of its parent's context, so greenlets would share a connection and interleave their
transactions. Keyed by greenlet, each request/task gets its own; the entry goes away with the
greenlet (a thread's main greenlet stands for the thread, so threads stay separate too).
"""

import greenlet

# The entry of a greenlet's storage that holds its on_greenlet_done hook (not a name of
# Django's: aliases are identifiers).
DONE_HOOK_KEY = "__puff_greenlet_done__"


class GreenletLocal:
    def __init__(self, on_greenlet_done=None):
        # Kept as an attribute of the greenlet itself: found in one lookup, gone with it.
        object.__setattr__(self, "_slot", "_puff_local_%x" % id(self))
        # on_greenlet_done(greenlet, data) -> an object the greenlet's storage keeps (a
        # weakref with a callback); only for greenlets that end (not a thread's main one).
        object.__setattr__(self, "_on_done", on_greenlet_done)

    def _namespace(self, create):
        me = greenlet.getcurrent()
        data = getattr(me, self._slot, None)
        if data is None and create:
            data = {}
            if self._on_done is not None and me.parent is not None:
                data[DONE_HOOK_KEY] = self._on_done(me, data)
            setattr(me, self._slot, data)
        return data

    def __getattr__(self, name):
        data = self._namespace(create=False)
        if data is None or name not in data:
            raise AttributeError(name)
        return data[name]

    def __setattr__(self, name, value):
        self._namespace(create=True)[name] = value

    def __delattr__(self, name):
        data = self._namespace(create=False)
        if data is None or name not in data:
            raise AttributeError(name)
        del data[name]


def install(handler, on_greenlet_done, take_idle):
    """Give a Django ConnectionHandler per-greenlet storage (idempotent). on_greenlet_done is
    GreenletLocal's; take_idle(alias) returns a connection to reuse or None. The engine passes
    idle_connections.py's, which hand a greenlet's clean pooled connections on (that module
    builds on this one, so it is passed in rather than imported)."""
    if isinstance(handler._connections, GreenletLocal):
        return
    handler._connections = GreenletLocal(on_greenlet_done=on_greenlet_done)
    fresh = handler.create_connection

    def create_connection(alias):
        return take_idle(alias) or fresh(alias)
    handler.create_connection = create_connection
