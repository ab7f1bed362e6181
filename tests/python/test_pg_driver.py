"""puff's psycopg2 driver under plain python, against the throwaway PostgreSQL server.
(psycopg2's own suite scores compatibility at large: tests/compat/psycopg2_suite.py.)"""
import datetime
import decimal
import os
import threading
import uuid

import pytest

psycopg2 = pytest.importorskip("psycopg2")
import psycopg2.errors  # noqa: E402
import psycopg2.extensions  # noqa: E402
import psycopg2.extras  # noqa: E402

URL = os.environ.get("TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="TEST_POSTGRES_URL not set (scripts/test sets it)")


def test_it_is_puffs_driver():
    assert psycopg2.__version__.endswith("puff)")


@pytest.fixture
def conn():
    c = psycopg2.connect(URL)
    yield c
    c.close()


def backends(conn, application_name):
    with conn.cursor() as cur:
        cur.execute("select count(*) from pg_stat_activity where application_name = %s",
                    [application_name])
        return cur.fetchone()[0]


def test_round_trip_of_common_types(conn):
    values = [None, True, 42, -(2 ** 40), 1.5, float("inf"), decimal.Decimal("12.340"),
              "héllo 'quoted'", b"\x00\x01\xff", datetime.date(2024, 2, 29),
              datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
              datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
              datetime.time(10, 20, 30), datetime.timedelta(days=3, seconds=5), [1, 2, None]]
    cur = conn.cursor()
    cur.execute("select " + ", ".join(["%s"] * len(values)), values)
    row = cur.fetchone()
    out = [bytes(v) if isinstance(v, memoryview) else v for v in row]
    assert out == values
    psycopg2.extras.register_uuid()
    u = uuid.uuid4()
    cur.execute("select %s", [u])
    assert cur.fetchone()[0] == u


def test_interpolation_and_query_bytes(conn):
    cur = conn.cursor()
    cur.execute("select %(a)s || '%%', '%%s literal', %(a)s", {"a": "x"})
    assert cur.fetchone() == ("x%", "%s literal", "x")
    assert cur.query == b"select 'x' || '%', '%s literal', 'x'"
    assert cur.mogrify("select %s", ["it's"]) == b"select 'it''s'"
    with pytest.raises(ValueError, match="NUL"):
        cur.execute("select %s", ["a\x00b"])


def test_description_rowcount_and_fetch_variants(conn):
    cur = conn.cursor()
    cur.execute("select g as n, g::text as t from generate_series(1, 5) g")
    assert [c.name for c in cur.description] == ["n", "t"]
    assert cur.description[0].type_code == psycopg2.NUMBER
    assert cur.rowcount == 5
    assert cur.fetchone() == (1, "1")
    assert cur.fetchmany(2) == [(2, "2"), (3, "3")]
    assert list(cur) == [(4, "4"), (5, "5")]
    assert cur.fetchone() is None


def test_errors_carry_sqlstate_and_diag(conn):
    cur = conn.cursor()
    cur.execute("create temp table t (id int primary key)")
    cur.execute("insert into t values (1)")
    with pytest.raises(psycopg2.errors.UniqueViolation) as info:
        cur.execute("insert into t values (1)")
    e = info.value
    assert isinstance(e, psycopg2.IntegrityError)
    assert e.pgcode == "23505"
    assert e.diag.constraint_name == "t_pkey"
    assert "duplicate key" in e.pgerror
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR
    with pytest.raises(psycopg2.errors.InFailedSqlTransaction):
        cur.execute("select 1")
    conn.rollback()
    cur.execute("select 1")
    assert cur.fetchone() == (1,)


def test_transactions_commit_and_rollback(conn):
    other = psycopg2.connect(URL)
    try:
        cur = conn.cursor()
        cur.execute("drop table if exists tx_check")
        cur.execute("create table tx_check (v int)")
        conn.commit()
        cur.execute("insert into tx_check values (1)")
        ocur = other.cursor()
        ocur.execute("select count(*) from tx_check")
        assert ocur.fetchone() == (0,), "uncommitted row visible to another session"
        other.rollback()
        conn.commit()
        ocur.execute("select count(*) from tx_check")
        assert ocur.fetchone() == (1,)
        other.rollback()  # its snapshot's lock would block the DROP
        cur.execute("drop table tx_check")
        conn.commit()
    finally:
        other.close()


def test_named_cursor_fetches_in_chunks(conn):
    cur = conn.cursor("big")
    cur.itersize = 7
    cur.execute("select g from generate_series(1, 50) g")
    assert [r[0] for r in cur] == list(range(1, 51))
    cur.close()
    conn.rollback()


def test_dict_and_namedtuple_cursors(conn):
    cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    cur.execute("select 1 as a, 'x' as b")
    assert cur.fetchone() == {"a": 1, "b": "x"}
    cur = conn.cursor(cursor_factory=psycopg2.extras.NamedTupleCursor)
    cur.execute("select 1 as a")
    assert cur.fetchone().a == 1


def test_bad_dsn_is_a_programming_error():
    with pytest.raises(psycopg2.ProgrammingError, match="invalid dsn"):
        psycopg2.connect("host=127.0.0.1 port")


def test_unreachable_server_is_one_clear_operational_error():
    with pytest.raises(psycopg2.OperationalError) as info:
        psycopg2.connect("host=127.0.0.1 port=1 dbname=x connect_timeout=3")
    assert "127.0.0.1" in str(info.value)


def test_statement_timeout_raises_query_canceled(conn):
    cur = conn.cursor()
    cur.execute("set statement_timeout = 100")
    with pytest.raises(psycopg2.extensions.QueryCanceledError) as info:
        cur.execute("select pg_sleep(5)")
    assert info.value.pgcode == "57014"
    conn.rollback()


def test_cancel_from_another_thread(conn):
    cur = conn.cursor()
    timer = threading.Timer(0.2, conn.cancel)
    timer.start()
    with pytest.raises(psycopg2.errors.QueryCanceled):
        cur.execute("select pg_sleep(5)")
    timer.join()
    conn.rollback()


def test_closed_connection_and_cursor_raise_interface_error(conn):
    cur = conn.cursor()
    cur.close()
    with pytest.raises(psycopg2.InterfaceError, match="cursor already closed"):
        cur.execute("select 1")
    conn.close()
    assert conn.closed
    with pytest.raises(psycopg2.InterfaceError, match="connection already closed"):
        conn.cursor()


def test_terminated_backend_fails_then_a_new_connection_works(conn):
    killer = psycopg2.connect(URL)
    killer.autocommit = True
    try:
        pid = conn.get_backend_pid()
        killer.cursor().execute("select pg_terminate_backend(%s)", [pid])
        with pytest.raises(psycopg2.OperationalError):
            conn.cursor().execute("select 1")
        assert conn.closed == 2
    finally:
        killer.close()
    fresh = psycopg2.connect(URL)
    fresh.cursor().execute("select 1")
    fresh.close()


def test_connections_do_not_leak_server_sessions():
    name = "puff-leak-check"
    for _ in range(20):
        c = psycopg2.connect(URL, application_name=name)
        c.cursor().execute("select 1")
        c.close()
    probe = psycopg2.connect(URL)
    try:
        import time
        deadline = time.time() + 5
        while backends(probe, name) and time.time() < deadline:
            time.sleep(0.05)
        assert backends(probe, name) == 0
    finally:
        probe.close()
