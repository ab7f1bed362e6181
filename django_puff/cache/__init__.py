"""Django cache backends on puff's native Redis pools: django_puff.cache.RedisCache."""
from django_puff.cache.redis import RedisCache

__all__ = ["RedisCache"]
