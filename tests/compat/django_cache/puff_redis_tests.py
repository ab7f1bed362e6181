"""Django's cache contract (BaseCacheTests of the Django sdist's tests/cache/tests.py) against
django_puff.cache.RedisCache. tests/compat/django_cache_suite.py copies this file into the
extracted tests/cache/ folder, where runtests.py runs it as the label
`cache.puff_redis_tests`, beside the reference run of Django's own RedisCacheTests on
redis-py."""
import os

from django.test import TestCase, override_settings

from django_puff.redis import ResponseError

from .tests import BaseCacheTests, caches_setting_for_tests

# The aliases BaseCacheTests uses, on our backend; cull options do not apply to Redis (Django
# leaves them out for its RedisCache too).
_PARAMS = {"BACKEND": "django_puff.cache.RedisCache",
           "LOCATION": os.environ["DJANGO_CACHE_SUITE_REDIS_URL"]}


@override_settings(CACHES=caches_setting_for_tests(base=_PARAMS, exclude={"cull", "zero_cull"}))
class PuffRedisCacheTests(BaseCacheTests, TestCase):
    # incr/decr of a pickled value: Redis answers "ERR value is not an integer".
    incr_decr_type_error = ResponseError
