"""The common Redis commands as methods, shared by Client (runs them) and Pipeline (queues
them). Each method builds the arguments and names how the raw reply becomes the value
redis-py users expect: bytes in, bytes out; OK -> True; integer flags -> bool."""
from django_puff.redis.exceptions import DataError


def _ok(reply):
    return reply == "OK"


def _ok_or_none(reply):  # SET with NX/XX: None when the condition stopped it
    return True if reply == "OK" else None


def _bool(reply):
    return bool(reply)


def _pairs_to_dict(reply):
    return dict(zip(reply[::2], reply[1::2], strict=False)) if reply else {}


def _as_set(reply):
    return set(reply) if reply else set()


def _float_or_none(reply):
    return None if reply is None else float(reply)


def _scan(reply):
    cursor, keys = reply
    return int(cursor), keys


def _info(reply):
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    info = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        try:
            info[key] = int(value)
        except ValueError:
            try:
                info[key] = float(value)
            except ValueError:
                info[key] = value
    return info


def _seconds(value, name):
    """EX/EXPIRE take whole seconds: an int, or a timedelta."""
    if type(value) is int:  # the common case, without hasattr's AttributeError on an int
        return value
    if hasattr(value, "total_seconds"):
        value = int(value.total_seconds())
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError("%s must be an int (seconds) or a timedelta, got %r" % (name, value))
    return value


def _milliseconds(value, name):
    if type(value) is int:
        return value
    if hasattr(value, "total_seconds"):
        value = int(value.total_seconds() * 1000)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError("%s must be an int (milliseconds) or a timedelta, got %r" % (name, value))
    return value


def _flatten_keys(keys, args):
    if isinstance(keys, (str, bytes)):
        keys = [keys]
    return list(keys) + list(args)


class Commands:
    """Subclasses define _call(callback, *args): run (Client) or queue (Pipeline)."""

    def _call(self, callback, *args):
        raise NotImplementedError

    # ---- generic ----
    def execute_command(self, *args):
        """Any command, its raw reply (bytes, int, str status, list, None)."""
        return self._call(None, *args)

    def ping(self):
        return self._call(lambda reply: reply == "PONG", "PING")

    def echo(self, value):
        return self._call(None, "ECHO", value)

    def delete(self, *names):
        return self._call(None, "DEL", *names)

    def unlink(self, *names):
        return self._call(None, "UNLINK", *names)

    def exists(self, *names):
        return self._call(None, "EXISTS", *names)

    def expire(self, name, time):
        return self._call(_bool, "EXPIRE", name, _seconds(time, "time"))

    def pexpire(self, name, time):
        return self._call(_bool, "PEXPIRE", name, _milliseconds(time, "time"))

    def expireat(self, name, when):
        if hasattr(when, "timestamp"):
            when = int(when.timestamp())
        return self._call(_bool, "EXPIREAT", name, when)

    def ttl(self, name):
        return self._call(None, "TTL", name)

    def pttl(self, name):
        return self._call(None, "PTTL", name)

    def persist(self, name):
        return self._call(_bool, "PERSIST", name)

    def type(self, name):
        return self._call(None, "TYPE", name)

    def rename(self, src, dst):
        return self._call(_ok, "RENAME", src, dst)

    def keys(self, pattern="*"):
        return self._call(None, "KEYS", pattern)

    def scan(self, cursor=0, match=None, count=None, _type=None):
        args = ["SCAN", cursor]
        if match is not None:
            args += ["MATCH", match]
        if count is not None:
            args += ["COUNT", count]
        if _type is not None:
            args += ["TYPE", _type]
        return self._call(_scan, *args)

    def dbsize(self):
        return self._call(None, "DBSIZE")

    def flushdb(self, asynchronous=False):
        return self._call(_ok, "FLUSHDB", *(["ASYNC"] if asynchronous else []))

    def info(self, section=None):
        return self._call(_info, "INFO", *([section] if section else []))

    # ---- strings ----
    def get(self, name):
        return self._call(None, "GET", name)

    def set(self, name, value, ex=None, px=None, nx=False, xx=False, keepttl=False, get=False):
        args = ["SET", name, value]
        if ex is not None:
            args += ["EX", _seconds(ex, "ex")]
        if px is not None:
            args += ["PX", _milliseconds(px, "px")]
        if nx and xx:
            raise DataError("set: nx and xx exclude each other")
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        if keepttl:
            args.append("KEEPTTL")
        if get:
            args.append("GET")
            return self._call(None, *args)
        return self._call(_ok_or_none, *args)

    def setnx(self, name, value):
        return self._call(_bool, "SETNX", name, value)

    def setex(self, name, time, value):
        return self._call(_ok, "SETEX", name, _seconds(time, "time"), value)

    def psetex(self, name, time_ms, value):
        return self._call(_ok, "PSETEX", name, _milliseconds(time_ms, "time_ms"), value)

    def getset(self, name, value):
        return self._call(None, "GETSET", name, value)

    def getdel(self, name):
        return self._call(None, "GETDEL", name)

    def mget(self, keys, *args):
        return self._call(None, "MGET", *_flatten_keys(keys, args))

    def mset(self, mapping):
        args = ["MSET"]
        for key, value in mapping.items():
            args += [key, value]
        return self._call(_ok, *args)

    def msetnx(self, mapping):
        args = ["MSETNX"]
        for key, value in mapping.items():
            args += [key, value]
        return self._call(_bool, *args)

    def incr(self, name, amount=1):
        return self._call(None, "INCRBY", name, amount)

    incrby = incr

    def decr(self, name, amount=1):
        return self._call(None, "DECRBY", name, amount)

    decrby = decr

    def incrbyfloat(self, name, amount=1.0):
        return self._call(float, "INCRBYFLOAT", name, amount)

    def append(self, name, value):
        return self._call(None, "APPEND", name, value)

    def strlen(self, name):
        return self._call(None, "STRLEN", name)

    # ---- hashes ----
    def hget(self, name, key):
        return self._call(None, "HGET", name, key)

    def hset(self, name, key=None, value=None, mapping=None):
        args = ["HSET", name]
        if key is not None:
            args += [key, value]
        for k, v in (mapping or {}).items():
            args += [k, v]
        if len(args) == 2:
            raise DataError("hset needs key and value, or a mapping")
        return self._call(None, *args)

    def hsetnx(self, name, key, value):
        return self._call(_bool, "HSETNX", name, key, value)

    def hmget(self, name, keys, *args):
        return self._call(None, "HMGET", name, *_flatten_keys(keys, args))

    def hgetall(self, name):
        return self._call(_pairs_to_dict, "HGETALL", name)

    def hdel(self, name, *keys):
        return self._call(None, "HDEL", name, *keys)

    def hexists(self, name, key):
        return self._call(_bool, "HEXISTS", name, key)

    def hincrby(self, name, key, amount=1):
        return self._call(None, "HINCRBY", name, key, amount)

    def hkeys(self, name):
        return self._call(None, "HKEYS", name)

    def hvals(self, name):
        return self._call(None, "HVALS", name)

    def hlen(self, name):
        return self._call(None, "HLEN", name)

    # ---- lists ----
    def lpush(self, name, *values):
        return self._call(None, "LPUSH", name, *values)

    def rpush(self, name, *values):
        return self._call(None, "RPUSH", name, *values)

    def lpop(self, name, count=None):
        return self._call(None, "LPOP", name, *([count] if count is not None else []))

    def rpop(self, name, count=None):
        return self._call(None, "RPOP", name, *([count] if count is not None else []))

    def lrange(self, name, start, end):
        return self._call(None, "LRANGE", name, start, end)

    def llen(self, name):
        return self._call(None, "LLEN", name)

    def lindex(self, name, index):
        return self._call(None, "LINDEX", name, index)

    def lrem(self, name, count, value):
        return self._call(None, "LREM", name, count, value)

    def ltrim(self, name, start, end):
        return self._call(_ok, "LTRIM", name, start, end)

    # ---- sets ----
    def sadd(self, name, *values):
        return self._call(None, "SADD", name, *values)

    def srem(self, name, *values):
        return self._call(None, "SREM", name, *values)

    def smembers(self, name):
        return self._call(_as_set, "SMEMBERS", name)

    def sismember(self, name, value):
        return self._call(_bool, "SISMEMBER", name, value)

    def scard(self, name):
        return self._call(None, "SCARD", name)

    # ---- sorted sets ----
    def zadd(self, name, mapping, nx=False, xx=False):
        args = ["ZADD", name] + (["NX"] if nx else []) + (["XX"] if xx else [])
        for member, score in mapping.items():
            args += [score, member]
        return self._call(None, *args)

    def zscore(self, name, value):
        return self._call(_float_or_none, "ZSCORE", name, value)

    def zincrby(self, name, amount, value):
        return self._call(float, "ZINCRBY", name, amount, value)

    def zrange(self, name, start, end, withscores=False):
        if withscores:
            return self._call(
                lambda r: [(m, float(s)) for m, s in zip(r[::2], r[1::2], strict=False)],
                "ZRANGE", name, start, end, "WITHSCORES")
        return self._call(None, "ZRANGE", name, start, end)

    def zrem(self, name, *values):
        return self._call(None, "ZREM", name, *values)

    def zcard(self, name):
        return self._call(None, "ZCARD", name)

    # ---- pub/sub, scripting ----
    def publish(self, channel, message):
        return self._call(None, "PUBLISH", channel, message)

    def eval(self, script, numkeys, *keys_and_args):
        return self._call(None, "EVAL", script, numkeys, *keys_and_args)

    def evalsha(self, sha, numkeys, *keys_and_args):
        return self._call(None, "EVALSHA", sha, numkeys, *keys_and_args)

    def script_load(self, script):
        return self._call(lambda r: r.decode() if isinstance(r, bytes) else r,
                          "SCRIPT", "LOAD", script)
