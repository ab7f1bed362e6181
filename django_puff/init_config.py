"""`puff init`: the puff.toml of an existing Django project, from its settings.

    puff init [--settings mysite.settings] [--force]

The settings module is --settings, else DJANGO_SETTINGS_MODULE, else the one manage.py sets by
default. Written: django_settings; wsgi from WSGI_APPLICATION; one [[postgres]] per PostgreSQL
DATABASES alias (url from NAME/USER/HOST/PORT; the password stays in the settings); one [[redis]]
per Redis CACHES alias (url from LOCATION). Other keys keep their defaults: `puff example-config`
lists them all. Runs inside puff (the CLI's run_init), which loads the file back afterwards.
"""
import argparse
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import quote

POSTGRES_ENGINES = ("django.db.backends.postgresql", "django_puff.db.backends.postgresql",
                    "django.contrib.gis.db.backends.postgis")
REDIS_BACKENDS = ("django.core.cache.backends.redis.RedisCache", "django_redis.cache.RedisCache",
                  "django_puff.cache.RedisCache")
ENTRY_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")


class InitError(Exception):
    """A one-line reason why no file was written."""


def toml_string(text):
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def entry_name(alias):
    """puff.toml's names are lowercase; an alias that is not gets the nearest valid name."""
    name = re.sub(r"[^a-z0-9_-]", "_", alias.lower())
    if not name[:1].isalpha():
        name = "db_" + name
    return name[:63]


def settings_module_from_manage_py(directory):
    manage = Path(directory) / "manage.py"
    if not manage.is_file():
        return None
    found = re.search(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""",
                      manage.read_text(errors="replace"))
    return found.group(1) if found else None


def postgres_url(database):
    host = str(database.get("HOST") or "")
    port = str(database.get("PORT") or "")
    user = quote(str(database.get("USER") or ""), safe="")
    name = quote(str(database.get("NAME") or ""), safe="")
    query = ""
    if host.startswith("/"):  # a unix socket directory: libpq takes it as ?host=
        query = "?host=" + quote(host, safe="/")
        host = ""
    elif ":" in host:
        host = f"[{host}]"
    netloc = (user + "@" if user else "") + host + (":" + port if port else "")
    return f"postgresql://{netloc}/{name}{query}"


def postgres_entries(databases):
    lines, notes = [], []
    for alias, database in databases.items():
        engine = database.get("ENGINE", "")
        if engine not in POSTGRES_ENGINES:
            notes.append(f"# DATABASES[{alias!r}] ({engine or 'no ENGINE'}) is not PostgreSQL: "
                         "no pool for it.")
            continue
        name = entry_name(alias)
        lines.append("")
        if engine != "django_puff.db.backends.postgresql":
            lines.append(f'# Set DATABASES[{alias!r}]["ENGINE"] = '
                         '"django_puff.db.backends.postgresql" to use this pool.')
        if name != alias:
            lines.append(f'# DATABASES[{alias!r}] finds this entry with OPTIONS["pool"] = '
                         f'{{"name": "{name}"}}.')
        if database.get("PASSWORD"):
            lines.append(f"# The password stays in the settings; `puff doctor` needs it in the URL "
                         f"or in PUFF_{name.upper().replace('-', '_')}_POSTGRES_URL.")
        lines += ["[[postgres]]", f"name = {toml_string(name)}",
                  f"url = {toml_string(postgres_url(database))}"]
        pool = (database.get("OPTIONS") or {}).get("pool")
        if isinstance(pool, dict) and "max_size" in pool:
            lines.append(f"# OPTIONS[\"pool\"] still wins over this file (max_size = "
                         f"{pool['max_size']} there).")
    return lines, notes


def redis_entries(caches):
    lines, notes = [], []
    for alias, cache in caches.items():
        backend = cache.get("BACKEND", "")
        if backend not in REDIS_BACKENDS:
            continue
        location = cache.get("LOCATION")
        locations = location if isinstance(location, (list, tuple)) else (
            [part for part in re.split(r"[;,]", location) if part] if location else [])
        if not locations:
            notes.append(f"# CACHES[{alias!r}] has no LOCATION (it names a pool in its OPTIONS).")
            continue
        name = entry_name(alias)
        lines.append("")
        if len(locations) > 1:
            lines.append(f"# CACHES[{alias!r}] lists {len(locations)} servers; this pool is the "
                         "first (the one writes go to).")
        lines += ["[[redis]]", f"name = {toml_string(name)}",
                  f"url = {toml_string(str(locations[0]))}"]
    return lines, notes


def render(settings, module):
    lines = ["# puff.toml written by `puff init` from " + module + ".",
             "# `puff example-config` shows every key with its default.",
             "", f"django_settings = {toml_string(module)}"]
    wsgi = getattr(settings, "WSGI_APPLICATION", None)
    if wsgi:
        lines.append(f"wsgi = {toml_string(wsgi)}")
    postgres, postgres_notes = postgres_entries(getattr(settings, "DATABASES", {}) or {})
    redis, redis_notes = redis_entries(getattr(settings, "CACHES", {}) or {})
    notes = postgres_notes + redis_notes
    if notes:
        lines += ["", *notes]
    return "\n".join(lines + postgres + redis) + "\n"


def load_settings(module):
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    from django.conf import settings

    try:
        settings.DATABASES  # noqa: B018 (imports the module)
    except ModuleNotFoundError as error:
        if error.name and (module + ".").startswith(error.name + "."):
            raise InitError(f"no settings module '{module}' (no module named '{error.name}'); "
                            "pass --settings or set DJANGO_SETTINGS_MODULE") from None
        raise
    return settings


def main():
    parser = argparse.ArgumentParser(prog="puff init")
    parser.add_argument("--output", required=True)
    parser.add_argument("--settings")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(sys.argv[1:])
    directory = os.path.dirname(args.output)
    module = (args.settings or os.environ.get("DJANGO_SETTINGS_MODULE")
              or settings_module_from_manage_py(directory))
    try:
        if not module:
            raise InitError(f"no Django settings module: no manage.py in {directory} names one; "
                            "pass --settings mysite.settings or set DJANGO_SETTINGS_MODULE")
        settings = load_settings(module)
        text = render(settings, module)
        try:
            with open(args.output, "w" if args.force else "x") as out:
                out.write(text)
        except FileExistsError:
            raise InitError(f"{args.output} already exists; pass --force to replace it") from None
        except OSError as error:
            raise InitError(f"cannot write {args.output}: {error.strerror}") from None
    except InitError as error:
        print(f"puff init: {error}", file=sys.stderr)
        return 1
    databases = text.count("[[postgres]]")
    caches = text.count("[[redis]]")
    print(f"puff init: wrote {args.output} (django_settings = {module}, {databases} "
          f"[[postgres]], {caches} [[redis]])")
    return 0
