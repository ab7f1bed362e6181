"""Storage private to each greenlet, for Django's per-"thread" connections.

Django keeps its database connections in an asgiref Local, which is per thread (and per
context): every greenlet of puff's hub runs on one thread, and a spawned task starts with a
copy of its parent's context, so greenlets would share a connection and interleave their
transactions. Keyed by greenlet, each request/task gets its own; the entry goes away with the
greenlet (a thread's main greenlet stands for the thread, so threads stay separate too).
"""

import greenlet


class GreenletLocal:
    def __init__(self):
        # Kept as an attribute of the greenlet itself: found in one lookup, gone with it.
        object.__setattr__(self, "_slot", "_puff_local_%x" % id(self))

    def _namespace(self, create):
        me = greenlet.getcurrent()
        data = getattr(me, self._slot, None)
        if data is None and create:
            data = {}
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


def install(handler):
    """Give a Django ConnectionHandler per-greenlet storage (idempotent)."""
    if not isinstance(handler._connections, GreenletLocal):
        handler._connections = GreenletLocal()
