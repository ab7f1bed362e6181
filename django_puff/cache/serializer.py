"""How cache values are stored: Django's RedisCache format (ints as their digits, so INCR
works; anything else pickled), optionally zlib-compressed above COMPRESS_MIN_LEN bytes. A
compressed value carries a marker no pickle, digit string or text serializer starts with."""
import pickle
import zlib

from django.core.cache.backends.redis import RedisSerializer as DjangoRedisSerializer
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

_COMPRESSED = b"\x00z"


class RedisSerializer(DjangoRedisSerializer):
    """Django's RedisCache format, read without its int() attempt on every pickle (whose
    ValueError formats the pickle's repr: a tenth of a get_many's time)."""

    def loads(self, data):
        if data[:1] == b"\x80":  # pickle protocol >= 2; digits never start so
            return pickle.loads(data)
        return super().loads(data)


def make_serializer(option):
    """OPTIONS["SERIALIZER"]: a dotted path, a class or an instance with dumps/loads."""
    if option is None:
        return RedisSerializer()
    if isinstance(option, str):
        option = import_string(option)
    if isinstance(option, type):
        option = option()
    if not (callable(getattr(option, "dumps", None)) and callable(getattr(option, "loads", None))):
        raise ImproperlyConfigured("CACHES OPTIONS['SERIALIZER'] must have dumps() and loads(), "
                                   "got %r" % (option,))
    return option


class Codec:
    def __init__(self, serializer, compress_min_len):
        self.serializer = serializer
        self.compress_min_len = compress_min_len

    def dumps(self, value):
        data = self.serializer.dumps(value)
        if self.compress_min_len is not None and isinstance(data, bytes) \
                and len(data) >= self.compress_min_len:
            return _COMPRESSED + zlib.compress(data)
        return data

    def loads(self, data):
        if data[:2] == _COMPRESSED:
            data = zlib.decompress(data[2:])
        return self.serializer.loads(data)
