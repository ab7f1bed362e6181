"""examples/hello's settings for the bench: DEBUG off; the peers get Django's own postgresql
backend on psycopg2 with persistent connections (their best documented setting), or
BENCH_CONN_MAX_AGE=0 (Django's default) for the "what most sites run" rows."""
import os

from hello.settings import *  # noqa: F401,F403
from hello.settings import DATABASES

DEBUG = False
ALLOWED_HOSTS = ["*"]
if os.environ.get("BENCH_PEER") == "1":
    DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
    DATABASES["default"].pop("OPTIONS", None)
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("BENCH_CONN_MAX_AGE", "600"))
