"""psycopg2's client-side interpolation of `%s` / `%(name)s` placeholders (for `_adapt.mogrify`).

psycopg2 interpolates in two passes and its error behaviour follows from that:
1. a scan of the query (as a C string: it stops at a NUL byte) that fetches each value from
   `vars` and quotes it: this pass raises the "argument formats can't be mixed" and
   "incomplete placeholder" errors, and lets `vars[i]` / `vars[key]` raise their own errors;
2. a `bytes % args` with the quoted values: this pass raises "unsupported format character",
   "not all arguments converted" and friends; psycopg2 re-raises one of them, "not enough
   arguments for format string" (placeholders after a NUL), as a ProgrammingError.
A query is analysed once into a `_Plan` holding both passes as step lists, cached by query.
"""

from psycopg2._adapt_protocol import c_type_name
from psycopg2._exceptions import ProgrammingError

# psycopg2's names for the two placeholder styles.
_NO_PLACEHOLDER, _NAMED, _POSITIONAL = 0, 1, 2

_CACHED_QUERY_MAX_LEN = 16384
_CACHE_MAX_PLANS = 512


class _Fail:
    """A step that raises: the error a query's shape causes when the interpolation reaches it."""

    __slots__ = ("exc_type", "args")

    def __init__(self, exc_type, *args):
        self.exc_type = exc_type
        self.args = args

    def throw(self):
        raise self.exc_type(*self.args)


class _Key(str):
    """A second-pass step: select the value of this key (`%(key)`)."""

    __slots__ = ()


_NEXT_ARG = object()  # a second-pass step: consume the next value (the `s` of `%s`)
_UNFILLED = object()  # a value slot the first pass never reached


class _Plan:
    __slots__ = ("kind", "ops", "force", "steps", "template", "keys")

    def __init__(self, kind, ops, force, steps):
        self.kind = kind
        self.ops = ops  # first pass: None (next positional value), str (a key) or _Fail
        self.force = force  # '%%' seen: the second pass runs even without values
        self.steps = steps  # second pass: bytes, _Key, _NEXT_ARG or _Fail
        # For the ordinary queries, where both passes agree and nothing fails: the literal
        # parts with a slot between each two, and (named style) the key of each slot.
        self.template, self.keys = _template(kind, ops, steps)


def _decode_key(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return _Fail(UnicodeDecodeError, *e.args)


def _first_pass(query):
    end = query.find(b"\0")
    if end < 0:
        end = len(query)
    ops = []
    kind = _NO_PLACEHOLDER
    force = False
    pos = query.find(b"%", 0, end)
    while pos >= 0:
        after = query[pos + 1:pos + 2] if pos + 1 < end else b""
        if after == b"%":
            force = True
            pos += 2
        elif after == b"(":
            if kind == _POSITIONAL:
                ops.append(_Fail(ProgrammingError, "argument formats can't be mixed"))
                break
            kind = _NAMED
            close = query.find(b")", pos + 2, end)
            percent = query.find(b"%", pos + 2, close if close >= 0 else end)
            if close < 0 or percent >= 0:
                ops.append(_Fail(ProgrammingError, "incomplete placeholder: '%(' without ')'"))
                break
            key = _decode_key(query[pos + 2:close])
            ops.append(key)
            if key.__class__ is _Fail:
                break
            pos = close + 1
        else:
            if kind == _NAMED:
                ops.append(_Fail(ProgrammingError, "argument formats can't be mixed"))
                break
            kind = _POSITIONAL
            ops.append(None)
            pos += 1  # the format character is scanned as ordinary text
        pos = query.find(b"%", pos, end)
    return kind, tuple(ops), force


def _second_pass(query, named):
    steps = []
    literal = bytearray()

    def flush():
        if literal:
            steps.append(bytes(literal))
            literal.clear()

    size = len(query)
    start = 0
    while True:
        pos = query.find(b"%", start)
        if pos < 0:
            literal += query[start:]
            break
        literal += query[start:pos]
        char_at = pos + 1
        if query[char_at:char_at + 1] == b"(":
            if not named:
                flush()
                steps.append(_Fail(TypeError, "format requires a mapping"))
                return steps
            depth = 1
            scan = char_at + 1
            while depth and scan < size:
                byte = query[scan]
                if byte == 0x29:  # ')'
                    depth -= 1
                elif byte == 0x28:  # '('
                    depth += 1
                scan += 1
            flush()
            if depth:
                steps.append(_Fail(ValueError, "incomplete format key"))
                return steps
            key = _decode_key(query[char_at + 1:scan - 1])
            if key.__class__ is _Fail:
                steps.append(key)
                return steps
            steps.append(_Key(key))
            char_at = scan
        if char_at >= size:
            flush()
            steps.append(_Fail(ValueError, "incomplete format"))
            return steps
        char = query[char_at]
        if char == 0x25:  # '%'
            literal += b"%"
        elif char == 0x73:  # 's'
            flush()
            steps.append(_NEXT_ARG)
        else:
            flush()
            steps.append(_unsupported_character(char, char_at))
            return steps
        start = char_at + 1
    flush()
    return steps


def _unsupported_character(char, index):
    if char >= 0x80:
        # psycopg2 formats the byte as a signed C char: Python's formatter rejects it.
        return _Fail(OverflowError, "character argument not in range(0x110000)")
    return _Fail(ValueError, "unsupported format character '%c' (0x%x) at index %d"
                 % (char, char, index))


def _template(kind, ops, steps):
    if any(op.__class__ is _Fail for op in ops) or any(s.__class__ is _Fail for s in steps):
        return None, None
    template = [b""]
    keys = []
    pending_key = None
    for step in steps:
        if step.__class__ is bytes:
            if pending_key is not None:
                return None, None
            template[-1] += step
        elif step.__class__ is _Key:
            if kind != _NAMED or pending_key is not None:
                return None, None
            pending_key = str(step)
        else:
            if (kind == _NAMED) != (pending_key is not None):
                return None, None
            if pending_key is not None:
                keys.append(pending_key)
                pending_key = None
            template += (None, b"")
    if pending_key is not None:
        return None, None
    slots = (len(template) - 1) // 2
    if kind == _NAMED:
        if tuple(keys) != ops:
            return None, None
    elif slots != len(ops):
        return None, None
    return template, tuple(keys)


_plans = {}


def _plan_for(query):
    plan = _plans.get(query)
    if plan is None:
        kind, ops, force = _first_pass(query)
        plan = _Plan(kind, ops, force, _second_pass(query, kind == _NAMED))
        if len(query) <= _CACHED_QUERY_MAX_LEN:
            if len(_plans) >= _CACHE_MAX_PLANS:
                _plans.clear()
            _plans[query] = plan
    return plan


def _sequence_item(seq, index):
    # What the C API's PySequence_GetItem does for the objects that are not lists or tuples.
    cls = type(seq)
    getitem = getattr(cls, "__getitem__", None)
    if getitem is None:
        raise TypeError("'%s' object does not support indexing" % c_type_name(cls))
    if getitem is dict.__getitem__ or isinstance(seq, _MAPPING_ONLY_TYPES):
        raise TypeError("%s is not a sequence" % c_type_name(cls))
    return seq[index]


_MAPPING_ONLY_TYPES = (type(type.__dict__),)  # mappingproxy


def interpolate(query, vars, quote):
    """`query` (bytes) with its placeholders replaced by `quote(value)` of the values in `vars`."""
    plan = _plan_for(query)
    values = None
    odd = False  # a quoted value is not bytes: the second pass will complain about it
    index = 0
    plain_sequence = vars.__class__ is tuple or vars.__class__ is list
    for op in plan.ops:
        if op is None:
            value = vars[index] if plain_sequence else _sequence_item(vars, index)
            if values is None:
                values = [_UNFILLED] * len(vars)
            quoted = quote(value)
            if quoted.__class__ is not bytes:
                odd = True
            values[index] = quoted
            index += 1
        elif op.__class__ is str:
            value = vars[op]
            if values is None:
                values = {}
            if op not in values:
                quoted = quote(value)
                if quoted.__class__ is not bytes:
                    odd = True
                values[op] = quoted
        else:
            op.throw()
    if values is None:
        if not plan.force:
            return query
        values = ()
    template = plan.template
    if template is None or odd:
        return _format(plan.steps, values)
    parts = template.copy()
    if plan.kind == _NAMED:
        parts[1::2] = [values[key] for key in plan.keys]
    else:
        if len(values) > index:
            raise TypeError("not all arguments converted during string formatting")
        parts[1::2] = values
    return b"".join(parts)


def _format(steps, values):
    """The second pass, step by step: the general case, errors included."""
    named = values.__class__ is dict
    args = values
    if named:
        count, taken = -1, -2
    else:
        count, taken = len(values), 0
    out = []
    for step in steps:
        if step.__class__ is bytes:
            out.append(step)
        elif step is _NEXT_ARG:
            if taken >= count:
                raise ProgrammingError("not enough arguments for format string")
            taken += 1
            value = args if count < 0 else args[taken - 1]
            if value is _UNFILLED:
                raise SystemError("error return without exception set")
            if value.__class__ is not bytes:
                raise ValueError("only bytes values expected, got %s" % c_type_name(type(value)))
            out.append(value)
        elif step.__class__ is _Key:
            args = values[str(step)]
            count, taken = -1, -2
        else:
            step.throw()
    if not named and taken < count:
        raise TypeError("not all arguments converted during string formatting")
    return b"".join(out)
