"""The cache suite's run under test: django_puff.cache.RedisCache as the default cache (so the
cache session backends use it) and our database engine."""
import os

from django_settings.shim import *  # noqa: F401,F403

CACHES = {"default": {"BACKEND": "django_puff.cache.RedisCache",
                      "LOCATION": os.environ["DJANGO_CACHE_SUITE_REDIS_URL"]}}
