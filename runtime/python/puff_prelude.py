# The pure-Python part of the built-in `puff` module, compiled into the executable and run in
# the module's namespace at import (see puff_module.cpp). Keep it small: the core is native.
import functools as _functools


def blocking(function):
    """Decorator: calls of `function` run on puff's bounded blocking thread pool, so code that
    blocks (a synchronous HTTP client, file IO, CPU work in C that releases the GIL) does not
    stall the hub. Outside the hub the call runs directly."""
    if not callable(function):
        raise TypeError(f"puff.blocking expects a callable, got {type(function).__name__}")

    @_functools.wraps(function)
    def run_on_pool(*args, **kwargs):
        return run_blocking(function, *args, **kwargs)

    return run_on_pool


def join_all(tasks, return_exceptions=False):
    """Waits for every task and returns their results in order.

    With return_exceptions=True a failed task's exception takes its place in the list.
    Otherwise, once all have finished, the first failure (in the given order) is raised; every
    other failure is named in a note on it, so no error is dropped silently."""
    tasks = list(tasks)
    for task in tasks:
        if not isinstance(task, Task):
            raise TypeError(f"puff.join_all expects puff.Task objects, got {type(task).__name__}")
    for task in tasks:
        task.wait()
    results, failed = [], []
    for task in tasks:
        error = task.exception
        if error is None:
            results.append(task.result)
        elif return_exceptions:
            results.append(error)
        else:
            failed.append(task)
    if failed:
        first = failed[0].exception
        for other in failed[1:]:
            first.add_note(f"puff.join_all: {other!r} also failed: "
                           f"{type(other.exception).__name__}: {other.exception}")
        raise first
    return results


def _on_sigterm(signum, frame):
    # Installed by `puff python` for SIGTERM: unwind like Ctrl-C does (finally blocks run),
    # then exit with the conventional 128 + signal number.
    raise SystemExit(128 + signum)


def __getattr__(name):
    # Attributes other packages provide (puff.redis is django_puff.redis, puff.db_pool_stats
    # the driver's): registered natively in _exposed as "module" or "module:member", imported
    # on first use, since most programs never touch them.
    target = _exposed.get(name)
    if target is None:
        raise AttributeError(f"module 'puff' has no attribute {name!r}")
    import importlib

    module_name, _, member = target.partition(":")
    value = importlib.import_module(module_name)
    if member:
        value = getattr(value, member)
    globals()[name] = value
    return value
