"""Which server a named client talks to: puff.toml's [[redis]] entries inside puff, the
PUFF_<NAME>_REDIS_URL environment variables in plain python (where there is no puff.toml)."""
import os

from django_puff import _redis

_OPTION_NAMES = {"pool_size": "size", "connect_timeout": "connect_timeout",
                 "command_timeout": "command_timeout",
                 "reconnect_backoff_max": "reconnect_backoff_max"}


def under_puff():
    import sys
    return "puff" in sys.builtin_module_names


def pool_arguments(name):
    """(url, {Pool keyword arguments}) for the client named `name`."""
    if not isinstance(name, str) or not name:
        raise ValueError("a Redis client name must be a non-empty str, got %r" % (name,))
    if under_puff():
        entries = _redis.redis_config()
        entry = entries.get(name)
        if entry is None:
            raise ValueError(
                "no [[redis]] entry named %r in puff.toml (entries: %s); add one, or use "
                "django_puff.redis.from_url(url)" % (name, ", ".join(sorted(entries)) or "none"))
        if entry["problem"]:
            raise _redis.ConnectionError(entry["problem"])
        return entry["url"], {_OPTION_NAMES[k]: entry[k] for k in _OPTION_NAMES}
    variable = "PUFF_%s_REDIS_URL" % name.upper()
    url = os.environ.get(variable)
    if not url:
        raise ValueError(
            "Redis client %r: outside puff there is no puff.toml; set %s or use "
            "django_puff.redis.from_url(url)" % (name, variable))
    return url, {}
