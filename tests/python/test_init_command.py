"""`puff init` on copies of examples/hello: the puff.toml it writes from the project's settings
(read back with tomllib and used by `puff django check`), the refusal to overwrite, and bad
settings. No database is needed: init only reads the settings."""
import tomllib

import pytest

from example_project import EXAMPLE, copy_project

EXAMPLE_URL = "postgresql://app:s3cret@db.example:5433/hello"


@pytest.fixture
def hello(project):
    """examples/hello in the project directory, without its puff.toml."""
    copy_project(EXAMPLE, project.path, skip=("puff.toml",))
    project.base_env = {"PUFF_EXAMPLE_DATABASE_URL": EXAMPLE_URL}
    return project


def init(project, *args, env=None):
    return project.run(*args, env={**project.base_env, **(env or {})})


def written(project, name="puff.toml"):
    return tomllib.loads((project.path / name).read_text())


def test_init_writes_the_settings_databases_and_wsgi_of_the_project(hello):
    result = init(hello, "init")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"puff init: wrote {hello.path}/puff.toml (django_settings = "
                                     "hello.settings, 1 [[postgres]], 0 [[redis]])")
    config = written(hello)
    assert config["django_settings"] == "hello.settings"  # from manage.py
    assert config["wsgi"] == "hello.wsgi.application"
    # The password stays in settings.py; the file says where it can go instead.
    assert config["postgres"] == [{"name": "default",
                                   "url": "postgresql://app@db.example:5433/hello"}]
    assert "PUFF_DEFAULT_POSTGRES_URL" in (hello.path / "puff.toml").read_text()
    # What it wrote is what puff reads: the settings module comes from it now.
    check = init(hello, "django", "check")
    assert check.returncode == 0, check.stderr
    assert "System check identified no issues" in check.stdout


def test_an_existing_file_is_kept_unless_force(hello):
    (hello.path / "puff.toml").write_text("# mine\n")
    refused = init(hello, "init")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"puff init: {hello.path}/puff.toml already exists; pass --force to replace it "
        "(`puff example-config` shows every key)")
    assert (hello.path / "puff.toml").read_text() == "# mine\n"
    forced = init(hello, "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert written(hello)["django_settings"] == "hello.settings"


def test_force_replaces_a_file_that_does_not_even_load(hello):
    (hello.path / "puff.toml").write_text("postgres = [\n")
    assert init(hello, "django", "check").returncode == 2  # the broken file fails other commands
    forced = init(hello, "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert written(hello)["wsgi"] == "hello.wsgi.application"


def test_config_names_the_file_to_write(hello):
    # The project is the file's directory (manage.py and the settings are looked for there),
    # so here the settings module and its path are given.
    args = ("--config", "deploy/puff.toml", "init", "--settings", "hello.settings")
    env = {"PYTHONPATH": str(hello.path)}
    result = init(hello, *args, env=env)
    assert result.returncode == 1  # no such directory
    assert result.stderr.strip() == (f"puff init: cannot write {hello.path}/deploy/puff.toml: "
                                     "No such file or directory")
    (hello.path / "deploy").mkdir()
    result = init(hello, *args, env=env)
    assert result.returncode == 0, result.stderr
    assert written(hello, "deploy/puff.toml")["django_settings"] == "hello.settings"
    assert not (hello.path / "puff.toml").exists()


def test_every_postgres_database_and_redis_cache_becomes_an_entry(hello):
    hello.write("hello/multi_settings.py", """
        from hello.settings import *

        DATABASES = {
            "default": {"ENGINE": "django.db.backends.postgresql", "NAME": "app",
                        "USER": "me", "HOST": "/var/run/postgresql", "PORT": ""},
            "Reports": {"ENGINE": "django_puff.db.backends.postgresql", "NAME": "rep ort",
                        "USER": "", "HOST": "::1", "PORT": 6543,
                        "OPTIONS": {"pool": {"max_size": 3}}},
            "legacy": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"},
        }
        CACHES = {
            "default": {"BACKEND": "django_puff.cache.RedisCache",
                        "LOCATION": "redis://cache.example:6380/2"},
            "sessions": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                         "LOCATION": ["redis://primary:6379", "redis://replica:6379"]},
            "pooled": {"BACKEND": "django_puff.cache.RedisCache",
                       "OPTIONS": {"POOL": "default"}},
            "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        }
    """)
    result = init(hello, "init", "--settings", "hello.multi_settings")
    assert result.returncode == 0, result.stderr
    assert "3 [[postgres]]" not in result.stdout and "2 [[postgres]], 2 [[redis]]" in result.stdout
    config = written(hello)
    assert config["django_settings"] == "hello.multi_settings"
    assert config["postgres"] == [
        {"name": "default", "url": "postgresql://me@/app?host=/var/run/postgresql"},
        {"name": "reports", "url": "postgresql://[::1]:6543/rep%20ort"},
    ]
    assert config["redis"] == [
        {"name": "default", "url": "redis://cache.example:6380/2"},
        {"name": "sessions", "url": "redis://primary:6379"},
    ]
    text = (hello.path / "puff.toml").read_text()
    assert "DATABASES['legacy'] (django.db.backends.sqlite3) is not PostgreSQL" in text
    assert 'OPTIONS["pool"] = {"name": "reports"}' in text  # the alias is not a valid name
    assert 'Set DATABASES[\'default\']["ENGINE"] = "django_puff.db.backends.postgresql"' in text
    assert "CACHES['sessions'] lists 2 servers" in text
    assert "CACHES['pooled'] has no LOCATION" in text
    assert init(hello, "doctor").stdout.count("postgres reports") == 1  # puff reads it


def test_a_missing_settings_module_is_one_line_and_writes_nothing(hello):
    result = init(hello, "init", "--settings", "hello.nowhere")
    assert result.returncode == 1
    assert result.stderr.strip() == ("puff init: no settings module 'hello.nowhere' (no module "
                                      "named 'hello.nowhere'); pass --settings or set "
                                      "DJANGO_SETTINGS_MODULE")
    assert not (hello.path / "puff.toml").exists()
    (hello.path / "manage.py").unlink()
    result = init(hello, "init")
    assert result.returncode == 1
    assert "no Django settings module: no manage.py in" in result.stderr
    result = init(hello, "init", env={"DJANGO_SETTINGS_MODULE": "hello.settings"})
    assert result.returncode == 0, result.stderr


def test_settings_that_raise_show_their_traceback_and_write_nothing(hello):
    hello.write("hello/broken_settings.py", "from hello.settings import *\nDEBUG = undefined\n")
    result = init(hello, "init", "--settings", "hello.broken_settings")
    assert result.returncode == 1
    assert "NameError: name 'undefined' is not defined" in result.stderr
    assert not (hello.path / "puff.toml").exists()


def test_example_config_shows_the_format(project):
    result = project.run("example-config")
    assert result.returncode == 0
    assert "[[postgres]]" in result.stdout and "django_settings" in result.stdout
