"""The cache suite's reference run: Django's own RedisCache (redis-py) on the Redis of
$DJANGO_CACHE_SUITE_REDIS_URL, sessions on it, Django's postgresql backend on psycopg2."""
import os

from django_settings.reference import *  # noqa: F401,F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": os.environ["DJANGO_CACHE_SUITE_REDIS_URL"]}}
