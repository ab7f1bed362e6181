"""Django connections of finished greenlets, handed to the next greenlet of the thread.

Under the hub each request greenlet gets its own Django connection (greenlet_local.py), and
building one (a DatabaseWrapper, then connect(): parameters, the driver's connection object,
the session checks) cost about a fifth of a small request's Python time. A pooled connection
holds no server connection between transactions, so when its greenlet ends with it in a clean
state (no transaction, atomic block, savepoint or on-commit callback; autocommit as configured;
no error since the last statement) it waits here for the next greenlet that asks for the same
alias, as a persistent connection waits for a threaded server's next request. A connection is
either here or in one greenlet, never shared.

Kept apart from what could make it wrong for its next user: a settings change (tests'
override_settings: time zone, DATABASES) or a changed settings dict (the test database's NAME)
drops the idle ones; a forked child starts with none.
"""
import os
import threading
import weakref

from django.core.signals import setting_changed

from django_puff.db.greenlet_local import DONE_HOOK_KEY

# Per thread and alias: the most kept; more would only hold memory after a burst.
MAX_IDLE = 256

_idle = {}  # (thread id, alias) -> [wrapper, ...]
_generation = 0  # bumped when settings change: connections set up before are not handed on


def connected(wrapper):
    """Called by the engine when `wrapper` has opened a pooled connection: which settings it
    was set up under, to hand it on only while they hold."""
    wrapper._puff_idle_generation = _generation
    wrapper._puff_idle_settings = dict(wrapper.settings_dict)


def take(alias):
    """An idle connection for `alias` on this thread, or None."""
    stack = _idle.get((threading.get_ident(), alias))
    while stack:
        wrapper = stack.pop()
        if wrapper._puff_idle_settings == wrapper.settings_dict:
            return wrapper
        _discard(wrapper)
    return None


def keep_when_done(current, storage):
    """Calls back when the greenlet `current` is freed: its reusable connections go idle."""
    return weakref.ref(current, lambda _ref, storage=storage: _greenlet_done(storage))


def _greenlet_done(storage):
    # Runs while the greenlet is being freed: nothing here may wait (no server round trip).
    storage.pop(DONE_HOOK_KEY, None)
    for alias, wrapper in storage.items():
        if not _reusable(wrapper):
            continue
        stack = _idle.setdefault((threading.get_ident(), alias), [])
        if len(stack) >= MAX_IDLE:
            continue
        wrapper.queries_log.clear()
        wrapper.force_debug_cursor = False
        notices = wrapper.connection.notices
        if type(notices) is list:
            notices.clear()
        stack.append(wrapper)
    storage.clear()


def _reusable(wrapper):
    connection = getattr(wrapper, "connection", None)
    if connection is None or getattr(wrapper, "_puff_idle_generation", None) != _generation:
        # not puff's pooled engine, borrowed (borrow_db_context), or set up before a settings
        # change (Django updates only the changing greenlet's own connections)
        return False
    if wrapper.in_atomic_block or wrapper.savepoint_ids or wrapper.needs_rollback or \
            wrapper.run_on_commit or wrapper.execute_wrappers or \
            wrapper.closed_in_transaction or wrapper.errors_occurred or \
            wrapper._thread_sharing_count or \
            wrapper.autocommit != wrapper.settings_dict["AUTOCOMMIT"]:
        return False
    return connection._holds_nothing()


def _discard(wrapper):
    try:
        wrapper.close()  # holds no server connection: nothing to wait for
    except Exception:
        pass


def _forget_all(**_):
    """Settings changed: the idle connections may have been set up for the old ones."""
    global _generation
    _generation += 1
    stacks = list(_idle.values())
    _idle.clear()
    me = threading.get_ident()
    for stack in stacks:
        for wrapper in stack:
            if wrapper._thread_ident == me:
                _discard(wrapper)


setting_changed.connect(_forget_all, dispatch_uid="django_puff.idle_connections")


def _after_fork_in_child():
    global _generation
    _generation += 1
    _idle.clear()  # the parent's; their pool handles know to start over in a child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
