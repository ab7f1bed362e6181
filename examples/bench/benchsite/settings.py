"""Settings of the benchmark app; see README.md for the environment variables."""
import os
from urllib.parse import unquote, urlparse

SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["tfb"]
MIDDLEWARE = []  # as TechEmpower's Django entry: the views alone
ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
              "APP_DIRS": True, "OPTIONS": {"debug": False}}]
USE_TZ = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_ENGINES = {"puff": "django_puff.db.backends.postgresql",
            "django": "django.db.backends.postgresql"}
_CACHES = {"puff": {"BACKEND": "django_puff.cache.RedisCache"},
           "django-redis": {"BACKEND": "django_redis.cache.RedisCache",
                            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}},
           "django": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}

_db = urlparse(os.environ.get("BENCH_DATABASE_URL", "postgresql://localhost/bench"))
DATABASES = {"default": {
    "ENGINE": _ENGINES[os.environ.get("BENCH_DB_ENGINE", "puff")],
    "NAME": _db.path.lstrip("/"), "USER": unquote(_db.username or ""),
    "PASSWORD": unquote(_db.password or ""), "HOST": _db.hostname or "", "PORT": _db.port or "",
    "CONN_MAX_AGE": int(os.environ.get("BENCH_CONN_MAX_AGE", "0")),
}}
if DATABASES["default"]["ENGINE"].startswith("django_puff"):
    # Server connections per worker process: io-wait (10 ms queries) needs more than the
    # default 10 in flight; the peers open one per thread or greenlet.
    DATABASES["default"]["OPTIONS"] = {"pool": {"max_size": int(os.environ.get(
        "BENCH_POOL_SIZE", "32"))}}
CACHES = {"default": {**_CACHES[os.environ.get("BENCH_CACHE", "puff")],
                      "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")}}
