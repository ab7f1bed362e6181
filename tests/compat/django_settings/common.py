"""What both runs share: everything but the ENGINE. Mirrors Django's tests/test_sqlite.py, on
the PostgreSQL server of $TEST_POSTGRES_URL (a superuser: postgres_tests creates
extensions)."""
import os
from urllib.parse import unquote, urlsplit


def databases(engine):
    """The two aliases Django's suite needs. Each run gets its own database names
    ($DJANGO_SUITE_DB_NAME, set by the runner) so runs never share test databases."""
    url = urlsplit(os.environ["TEST_POSTGRES_URL"])
    name = os.environ.get("DJANGO_SUITE_DB_NAME", "django_tests")
    server = {
        "ENGINE": engine,
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
    }
    return {
        "default": {**server, "NAME": name},
        "other": {**server, "NAME": name + "_other"},
    }


SECRET_KEY = "django_tests_secret_key"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

USE_TZ = False

# Records every test's outcome to $DJANGO_SUITE_EVENTS (runtests.py honours TEST_RUNNER).
TEST_RUNNER = "django_settings.recording_runner.RecordingRunner"
