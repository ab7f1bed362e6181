"""The driver's native fast paths give exactly what its Python reference paths give.

cursor.execute interpolates the plain cases in C++ (psycopg_shim/native/fast_mogrify.cpp) and
falls back to psycopg2/_adapt_mogrify.py for everything else; plain-python statements run on
the calling thread (pg::Connection::execute_inline); rows are built with casters looked up in
C++. Each is checked here against the Python path or against the server."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip("psycopg2")
import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402
from psycopg2 import _psycopg  # noqa: E402
from psycopg2._adapt import _Context  # noqa: E402
from psycopg2._adapt_mogrify import interpolate  # noqa: E402

URL = os.environ.get("TEST_POSTGRES_URL")
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    not URL, reason="TEST_POSTGRES_URL not set (scripts/test sets it)")]


@pytest.fixture
def conn():
    c = psycopg2.connect(URL)
    c.autocommit = True
    yield c
    c.close()


def reference(query, vars, conn):
    """The Python interpolation (the reference behaviour), or the exception it raises."""
    try:
        return interpolate(query, vars, _Context(conn).quote)
    except Exception as e:  # noqa: BLE001  (compared by type and text)
        return (type(e), str(e))


VALUES = [None, True, False, 0, 7, -7, 2 ** 63 - 1, -(2 ** 63), 2 ** 70, -(2 ** 70), 0.0, -0.0,
          1.5, -2.25, 1e300, 1e-300, float("nan"), float("inf"), float("-inf"), "", "plain",
          "it's", "back\\slash", "both '\\'", "héllo wörld ✓", "line\nbreak", "%s %(x)s %%"]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_each_value_quotes_as_the_python_path(conn, value):
    for query, vars in ((b"select %s", (value,)), (b"select %s", [value]),
                        (b"select %(v)s, %(v)s", {"v": value})):
        fast = _psycopg.mogrify_fast(query, vars, conn)
        assert fast is not None, (query, vars)
        assert fast == reference(query, vars, conn)


def test_the_server_reads_the_literals_back(conn):
    cur = conn.cursor()
    for value in VALUES:
        cur.execute("select %s", (value,))
        got = cur.fetchone()[0]
        if isinstance(value, float) and value != value:
            assert got != got
        elif isinstance(value, float):  # finite ones arrive as numeric, as with psycopg2
            assert float(got) == value
        else:
            assert got == value, value


SHAPES = [
    (b"select 1 %% 2", ()),                      # only %%: substituted
    (b"select %s, %s", (1, 2)),
    (b"select %(a)s, %(b)s, %(a)s", {"a": 1, "b": "x", "unused": 3}),
    # Shapes the fast path leaves to Python (which raises psycopg2's errors, or formats):
    (b"select %s", (1, 2)),                     # too many values
    (b"select %s, %s", (1,)),                   # too few
    (b"select %d", (1,)),                       # unsupported format character
    (b"select %(a)s", {"b": 1}),                # missing key
    (b"select %(a)s, %s", {"a": 1}),            # mixed styles
    (b"select %s", {"a": 1}),                   # a mapping for %s
    (b"select %(a", {"a": 1}),                  # incomplete placeholder
    (b"select %(a(b)s", {"a(b": 1}),            # nested parenthesis
    (b"select %", (1,)),                        # incomplete format
    (b"select 1", (1,)),                        # no placeholder, values given
    (b"select %s", (object(),)),                # no adapter
    (b"select %s", ("nul\x00",)),               # NUL in a string
    (b"select %s", (b"bytes",)),                # types the fast path does not quote
    (b"select %s\x00 tail", (1,)),              # NUL in the query
]


@pytest.mark.parametrize("query,vars", SHAPES, ids=[repr(s[0]) for s in SHAPES])
def test_query_shapes_agree_with_the_python_path(conn, query, vars):
    fast = _psycopg.mogrify_fast(query, vars, conn)
    expected = reference(query, vars, conn)
    if fast is None:  # fallen back: mogrify() gives the reference result or error
        try:
            got = psycopg2.extensions.cursor(conn).mogrify(query, vars)
        except Exception as e:  # noqa: BLE001
            got = (type(e), str(e))
        assert got == expected
    else:
        assert fast == expected


def test_a_registered_adapter_wins_over_the_fast_path(conn):
    class Doubled:
        def __init__(self, value):
            self.value = value

        def getquoted(self):
            return str(self.value * 2).encode()

    psycopg2.extensions.register_adapter(int, Doubled)
    try:
        assert _psycopg.mogrify_fast(b"select %s", (21,), conn) is None
        cur = conn.cursor()
        cur.execute("select %s", (21,))
        assert cur.fetchone()[0] == 42
    finally:
        psycopg2.extensions.register_adapter(int, psycopg2.extensions.Int)
    assert _psycopg.mogrify_fast(b"select %s", (21,), conn) == b"select 21"


def test_string_syntax_follows_standard_conforming_strings(conn):
    cur = conn.cursor()
    cur.execute("set standard_conforming_strings = off")
    try:
        query, vars = b"select %s", ("a\\b'c",)
        assert _psycopg.mogrify_fast(query, vars, conn) == reference(query, vars, conn)
        assert reference(query, vars, conn) == b"select E'a\\\\b''c'"
        cur.execute(query, vars)
        assert cur.fetchone()[0] == "a\\b'c"
    finally:
        cur.execute("set standard_conforming_strings = on")


def test_casters_registered_on_cursor_and_connection_are_used(conn):
    upper = psycopg2.extensions.new_type((25,), "UPPER", lambda v, c: v.upper() if v else v)
    lower = psycopg2.extensions.new_type((25,), "LOWER", lambda v, c: v.lower() if v else v)
    plain = conn.cursor()
    psycopg2.extensions.register_type(upper, conn)
    by_conn = conn.cursor()
    by_conn.execute("select 'Mixed'::text, 2")
    assert by_conn.fetchone() == ("MIXED", 2)
    by_cursor = conn.cursor()
    psycopg2.extensions.register_type(lower, by_cursor)
    by_cursor.execute("select 'Mixed'::text union all select 'Other'")
    assert by_cursor.fetchall() == [("mixed",), ("other",)]
    conn.string_types.clear()
    plain.execute("select 'Mixed'::text")
    assert plain.fetchone() == ("Mixed",)


def test_ctrl_c_interrupts_a_statement_in_plain_python(tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        import psycopg2
        conn = psycopg2.connect({URL!r})
        cur = conn.cursor()
        print("ready", flush=True)
        started = time.monotonic()
        try:
            cur.execute("select pg_sleep(30)")
        except KeyboardInterrupt:
            print("interrupted after %.1f s, closed=%s" % (time.monotonic() - started,
                                                         conn.closed), flush=True)
            sys.exit(0)
        print("not interrupted", flush=True)
        sys.exit(1)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    seconds = float(out.split()[2])
    assert seconds < 5, out
    assert "closed=2" in out or "closed=1" in out, out


def test_a_connection_opened_before_fork_refuses_to_work_in_the_child(conn):
    cur = conn.cursor()
    cur.execute("select 1")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report in one line, never return into pytest
        try:
            try:
                cur.execute("select 2")
                verdict = "used the parent's session"
            except psycopg2.InterfaceError as e:
                verdict = "refused: %s" % e
            fresh = psycopg2.connect(URL)
            fresh.cursor().execute("select 3")
            fresh.close()
            os.write(write, (verdict + " | new connection ok").encode())
        finally:
            os._exit(0)
    os.close(write)
    report = os.read(read, 1000).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert report.startswith("refused: this connection was opened before fork()"), report
    assert report.endswith("new connection ok"), report
    cur.execute("select 4")  # the parent's session is untouched
    assert cur.fetchone() == (4,)
