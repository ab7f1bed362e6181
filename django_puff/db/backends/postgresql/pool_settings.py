"""The settings of the pool a DATABASES entry borrows its server connections from.

From lowest to highest precedence:
  1. the engine's defaults (_DEFAULTS);
  2. puff.toml's [[postgres]] entry of the same name: the DATABASES alias, or
     OPTIONS["pool"]["name"] to pick another entry (the pool then carries that name);
  3. OPTIONS["pool"] = {...} keys; OPTIONS["connect_timeout"] (libpq's, Django's usual place)
     wins over the entry's connect_timeout.
OPTIONS["pool"] = False turns pooling off (a dedicated server connection per Django
connection, as with psycopg2). Outside puff there is no puff.toml: only 1 and 3 apply.
"""

import sys

from django.core.exceptions import ImproperlyConfigured

# The [[postgres]] keys OPTIONS["pool"] may set, with the engine's defaults. min_size is 0 (not
# [[postgres]]'s 1): a project that never wrote a [[postgres]] entry opens nothing up front.
_DEFAULTS = {"min_size": 0, "max_size": 10, "acquire_timeout": 10.0,
             "health_check_after": 30.0, "statement_timeout": 0.0,
             "reconnect_backoff_max": 10.0}
# Also taken from [[postgres]], but set per database through OPTIONS["connect_timeout"].
_FROM_PUFF_TOML = tuple(_DEFAULTS) + ("connect_timeout",)
# The settings in seconds -> whether 0 is allowed (0 = always check / no limit).
_SECONDS = {"acquire_timeout": False, "health_check_after": True, "statement_timeout": True,
            "reconnect_backoff_max": False}


def under_puff():
    return "puff" in sys.builtin_module_names


def _puff_toml_entries():
    """{name: {...}} of the [[postgres]] entries puff loaded; None outside puff."""
    if not under_puff():
        return None
    import puff
    return puff.postgres_config()


def _from_puff_toml(name, explicit, where):
    entries = _puff_toml_entries()
    if entries is None:
        return {}
    entry = entries.get(name)
    if entry is None or entry["implicit"]:
        if explicit:
            written = sorted(n for n, e in entries.items() if not e["implicit"])
            raise ImproperlyConfigured(
                "%s: name %r: puff.toml has no [[postgres]] entry named so (entries: %s); add "
                "one or remove 'name' to use the alias" % (where, name, ", ".join(written) or
                                                            "none"))
        return {}  # an entry nobody wrote adds nothing to the engine's defaults
    return {key: entry[key] for key in _FROM_PUFF_TOML}


def _check(settings, where):
    for key in ("min_size", "max_size"):
        if not isinstance(settings[key], int) or isinstance(settings[key], bool):
            raise ImproperlyConfigured("%s: %s must be an integer" % (where, key))
    if not 0 <= settings["min_size"] <= settings["max_size"] or settings["max_size"] < 1:
        raise ImproperlyConfigured(
            "%s: need 0 <= min_size <= max_size and max_size >= 1 (got min_size=%r, "
            "max_size=%r)" % (where, settings["min_size"], settings["max_size"]))
    for key, zero_allowed in _SECONDS.items():
        value = settings[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or \
                (value == 0 and not zero_allowed) or value != value:
            raise ImproperlyConfigured("%s: %s must be a %s number of seconds (got %r)" % (
                where, key, "non-negative" if zero_allowed else "positive", value))


def resolve(alias, options):
    """connect_pooled() keyword arguments for DATABASES[alias], or None when not pooled."""
    wanted = options.get("pool", under_puff())
    if not wanted:
        return None
    where = "DATABASES[%r]['OPTIONS']['pool']" % alias
    overrides = dict(wanted) if isinstance(wanted, dict) else {}
    unknown = set(overrides) - set(_DEFAULTS) - {"name"}
    if unknown:
        raise ImproperlyConfigured("%s: unknown key(s) %s; allowed: name, %s" % (
            where, ", ".join(sorted(unknown)), ", ".join(_DEFAULTS)))
    name = overrides.pop("name", alias)
    if not isinstance(name, str) or not name:
        raise ImproperlyConfigured("%s: name must be the name of a [[postgres]] entry" % where)
    settings = dict(_DEFAULTS)
    explicit = isinstance(wanted, dict) and "name" in wanted
    settings.update(_from_puff_toml(name, explicit, where))
    if "connect_timeout" in options:
        settings.pop("connect_timeout", None)  # libpq's own, from the DSN, applies
    settings.update(overrides)
    _check(settings, where)
    settings["pool_name"] = name
    return settings
