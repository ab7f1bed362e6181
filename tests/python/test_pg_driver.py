"""puff's psycopg2 driver under plain python, against the throwaway PostgreSQL server.
(psycopg2's own suite scores compatibility at large: tests/compat/psycopg2_suite.py.)"""
import datetime
import decimal
import os
import threading
import uuid

import pytest

pytest.importorskip("psycopg2")
import psycopg2  # noqa: E402
import psycopg2.errors  # noqa: E402
import psycopg2.extensions  # noqa: E402
import psycopg2.extras  # noqa: E402

URL = os.environ.get("TEST_POSTGRES_URL")
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    not URL, reason="TEST_POSTGRES_URL not set (scripts/test sets it)")]


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
              datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
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


def test_placeholders_after_a_nul_are_psycopg2s_programming_error(conn):
    # psycopg2 (2.9.13) collects the values from the query read as a C string, up to the NUL,
    # then formats all of it: the placeholders after the NUL have no value, and it re-raises
    # its formatter's TypeError as ProgrammingError("not enough arguments for format string").
    cur = conn.cursor()
    for value in (1, decimal.Decimal(1)):  # one the C++ fast path quotes, one it leaves
        for run in (cur.mogrify, cur.execute):
            with pytest.raises(psycopg2.ProgrammingError) as raised:
                run("select %s\x00, %s", [value])
            assert str(raised.value) == "not enough arguments for format string"
    cur.execute("select %s", [1])  # the connection goes on
    assert cur.fetchone() == (1,)


def test_sql_quote_writes_literals_as_execute_does_and_is_replaceable(conn):
    import psycopg2.sql as sql
    cur = conn.cursor()
    for value in ["it's", None, 42, -1.5, [1, None], (1, "a"), datetime.date(2024, 2, 29),
                  decimal.Decimal("1.10"), b"\x00\xff"]:
        literal = sql.quote(value, conn)
        assert literal == cur.mogrify("%s", [value]).decode()
        assert sql.quote(value, cur) == literal
        assert sql.Literal(value).as_string(conn) == literal
    assert sql.quote("x") == "'x'"  # without a connection
    with pytest.raises(TypeError, match="context"):
        sql.quote(1, object())
    original = sql.quote
    sql.quote = lambda obj, context=None: "<%s>" % obj
    try:
        query = sql.SQL("select {}").format(sql.Literal(7)).as_string(conn)
        assert query == "select <7>"
    finally:
        sql.quote = original
    cur.execute(sql.SQL("select {}").format(sql.Literal("back")))
    assert cur.fetchone() == ("back",)


def test_listen_notify_with_select_and_poll(conn):
    import select
    conn.autocommit = True
    conn.cursor().execute("LISTEN puff_test_channel")
    other = psycopg2.connect(URL)
    other.autocommit = True
    try:
        sender = other.get_backend_pid()
        other.cursor().execute("NOTIFY puff_test_channel, 'hello'")
        assert select.select([conn], [], [], 5) != ([], [], []), "the socket never got readable"
        assert conn.notifies == []
        assert conn.poll() == psycopg2.extensions.POLL_OK
        assert conn.notifies == [(sender, "puff_test_channel")]
        assert conn.notifies[0].payload == "hello"
        conn.notifies.clear()
        # Received with the next statement too, without poll().
        other.cursor().execute("SELECT pg_notify('puff_test_channel', 'again')")
        import time
        time.sleep(0.2)
        conn.cursor().execute("SELECT 1")
        assert [n.payload for n in conn.notifies] == ["again"]
    finally:
        other.close()
    # The server ends the session: poll() says so and the connection is closed.
    killer = psycopg2.connect(URL)
    killer.autocommit = True
    killer.cursor().execute("SELECT pg_terminate_backend(%s)", [conn.get_backend_pid()])
    killer.close()
    with pytest.raises(psycopg2.OperationalError):
        for _ in range(50):
            select.select([conn], [], [], 0.1)
            conn.poll()
    assert conn.closed == 2


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


# ---- COPY -----------------------------------------------------------------------------------

@pytest.fixture
def copy_table(conn):
    cur = conn.cursor()
    cur.execute("create temp table copied (id int primary key, body text, note text)")
    conn.commit()
    return cur


def test_copy_from_and_copy_to_round_trip_text_and_binary_files(conn, copy_table):
    import io
    cur = copy_table
    cur.copy_from(io.StringIO("1\tplain\tx\n2\t\\N\t\\N\n3\tdéjà vu ✓\ttab\\there\n"), "copied")
    assert cur.rowcount == 3
    assert cur.query == b"COPY \"copied\" FROM stdin WITH DELIMITER AS '\t' NULL AS '\\N'"
    # Binary source, custom separator and NULL text, a column subset.
    cur.copy_from(io.BytesIO("4|NIL\n5|ünï\n".encode()), "copied", sep="|", null="NIL",
                  columns=["id", "body"])
    assert cur.rowcount == 2
    cur.execute("select id, body, note from copied order by id")
    assert cur.fetchall() == [(1, "plain", "x"), (2, None, None), (3, "déjà vu ✓", "tab\there"),
                              (4, None, None), (5, "ünï", None)]

    text = io.StringIO()
    cur.copy_to(text, "copied", sep=",", null="<null>", columns=("body", "id"))
    assert cur.rowcount == 5
    assert cur.query.startswith(b'COPY "copied"("body","id") TO stdout')
    assert text.getvalue().splitlines() == [
        "plain,1", "<null>,2", "déjà vu ✓,3", "<null>,4", "ünï,5"]
    binary = io.BytesIO()
    cur.copy_to(binary, "copied")
    assert binary.getvalue().splitlines()[2] == "3\tdéjà vu ✓\ttab\\there".encode()
    assert len(binary.getvalue().splitlines()) == 5


def test_copy_expert_takes_composables_and_passes_size_to_read(conn, copy_table):
    import io

    from psycopg2 import sql
    cur = copy_table
    sizes = []

    class CountingReader(io.StringIO):
        def read(self, size=-1):
            sizes.append(size)
            return super().read(size)

    source = CountingReader("id,body\n" + "".join("%d,row %d\n" % (i, i) for i in range(100)))
    cur.copy_expert(sql.SQL("COPY {} (id, body) FROM STDIN (FORMAT csv, HEADER)").format(
        sql.Identifier("copied")), source, size=50)
    assert cur.rowcount == 100
    assert set(sizes) == {50} and len(sizes) > 20
    out = io.BytesIO()
    cur.copy_expert(b"COPY (SELECT body FROM copied WHERE id < 3 ORDER BY id) TO STDOUT "
                    b"(FORMAT csv)", out)
    assert out.getvalue() == b"row 0\nrow 1\nrow 2\n"
    assert cur.rowcount == 3
    # As in psycopg2, copy_expert runs a statement without COPY as execute() would.
    cur.copy_expert("SELECT count(*) FROM copied", io.StringIO())
    assert cur.fetchone() == (100,)


def test_copy_of_several_megabytes_streams_in_bounded_chunks(conn, copy_table):
    import io
    cur = copy_table
    rows = "".join("%d\t%s\t\\N\n" % (i, str(i) * (1000 // len(str(i)))) for i in range(5000))
    assert len(rows) > 5_000_000
    cur.copy_from(io.StringIO(rows), "copied", size=1 << 20)
    assert cur.rowcount == 5000

    class Sink:
        def __init__(self):
            self.parts = []

        def write(self, data):
            self.parts.append(data)

    sink = Sink()
    cur.copy_expert("COPY copied TO STDOUT", sink)
    assert all(isinstance(p, bytes) for p in sink.parts)
    assert b"".join(sink.parts).decode() == rows
    # Handed over in batches of about 256 KiB: never the whole table at once.
    assert len(sink.parts) >= 15
    assert max(len(p) for p in sink.parts) < 300_000


def test_bad_copy_data_raises_the_servers_data_error(conn, copy_table):
    import io
    cur = copy_table
    cur.execute("insert into copied (id) values (100)")
    assert cur.rowcount == 1
    with pytest.raises(psycopg2.DataError) as info:
        cur.copy_from(io.StringIO("1\tok\tok\nnot-a-number\tbad\tbad\n"), "copied")
    assert isinstance(info.value, psycopg2.errors.InvalidTextRepresentation)
    assert info.value.pgcode == "22P02"
    assert "not-a-number" in info.value.pgerror
    assert info.value.cursor is cur
    assert cur.rowcount == -1
    # Outside autocommit the COPY ran in the transaction, which it failed.
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR
    conn.rollback()
    cur.execute("select count(*) from copied")
    assert cur.fetchone() == (0,)


def test_a_read_that_raises_fails_the_copy_and_the_connection_goes_on(conn, copy_table):
    import io
    cur = copy_table
    conn.autocommit = True

    class BrokenRead(io.TextIOBase):
        def __init__(self):
            self.calls = 0

        def read(self, size=-1):
            self.calls += 1
            if self.calls == 1:
                return "1\tfirst\t\\N\n"
            raise ZeroDivisionError("the file broke")

    with pytest.raises(psycopg2.extensions.QueryCanceledError) as info:
        cur.copy_from(BrokenRead(), "copied")
    # psycopg2's shape: the server's 57014 names the Python error; here it is also the cause.
    assert info.value.pgcode == "57014"
    assert "error in .read() call: ZeroDivisionError the file broke" in str(info.value)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    cur.execute("select count(*) from copied")
    assert cur.fetchone() == (0,)  # the row sent before the failure was not kept


def test_a_write_that_raises_stops_the_copy_and_the_connection_goes_on(conn, copy_table):
    import io
    cur = copy_table
    cur.execute("insert into copied select i, 'x' from generate_series(1, 50000) i")
    conn.commit()

    class BrokenWrite(io.TextIOBase):
        def write(self, data):
            raise ZeroDivisionError("disk full, say")

    with pytest.raises(ZeroDivisionError, match="disk full"):
        cur.copy_to(BrokenWrite(), "copied")
    # The rest of the data was drained: the session is ready for the next statement.
    cur.execute("select count(*) from copied")
    assert cur.fetchone() == (50000,)
    conn.commit()
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE


def test_copy_through_execute_is_refused_as_psycopg2_does(conn, copy_table):
    cur = copy_table
    conn.autocommit = True
    with pytest.raises(psycopg2.ProgrammingError,
                       match=r"can't execute COPY FROM: use the copy_from\(\) method instead"):
        cur.execute("copy copied from stdin")
    with pytest.raises(psycopg2.ProgrammingError,
                       match=r"can't execute COPY TO: use the copy_to\(\) method instead"):
        cur.execute("copy copied to stdout")
    cur.execute("select 1")
    assert cur.fetchone() == (1,)


def test_copy_argument_errors_are_psycopg2s(conn, copy_table):
    import io
    cur = copy_table
    with pytest.raises(TypeError, match=r"must have a \.read\(\) method"):
        cur.copy_from(object(), "copied")
    with pytest.raises(TypeError, match=r"must have a \.write\(\) method"):
        cur.copy_to(io.BytesIO().read, "copied")
    with pytest.raises(TypeError, match="file must be a readable file-like object"):
        cur.copy_expert("COPY copied FROM STDIN", object())
    with pytest.raises(TypeError, match="argument 2 must be str"):
        cur.copy_from(io.StringIO(), b"copied")
    with pytest.raises(psycopg2.ProgrammingError, match="empty query"):
        cur.copy_expert("", io.StringIO())

    def failing_columns():
        raise LookupError("no columns")
        yield "id"

    with pytest.raises(LookupError):
        cur.copy_from(io.StringIO(), "copied", columns=failing_columns())
    cur.close()
    with pytest.raises(psycopg2.InterfaceError, match="cursor already closed"):
        cur.copy_to(io.StringIO(), "copied")


def test_copy_names_are_quoted_as_in_psycopg2_2_9(conn):
    import io
    cur = conn.cursor()
    cur.execute('create temp table "select" ("group" int, "we""ird" text)')
    cur.copy_from(io.StringIO("1\ta\n"), "select", columns=["group", 'we"ird'])
    out = io.StringIO()
    cur.copy_to(out, "select")
    assert out.getvalue() == "1\ta\n"
    # The whole name is one identifier: a schema-qualified name needs copy_expert.
    cur.execute("create table public.copy_schema_test (v int)")
    try:
        with pytest.raises(psycopg2.errors.UndefinedTable):
            cur.copy_to(io.StringIO(), "public.copy_schema_test")
        conn.rollback()
        cur.execute("create table public.copy_schema_test (v int)")
        cur.copy_expert("COPY public.copy_schema_test FROM STDIN", io.StringIO("7\n"))
        assert cur.rowcount == 1
    finally:
        conn.rollback()


def test_copy_follows_the_connection_encoding(conn, copy_table):
    import io
    conn.set_client_encoding("LATIN1")
    cur = copy_table
    cur.copy_from(io.StringIO("1\tcafé\t\\N\n"), "copied")
    text, raw = io.StringIO(), io.BytesIO()
    cur.copy_to(text, "copied", columns=["body"])
    cur.copy_to(raw, "copied", columns=["body"])
    assert text.getvalue() == "café\n"
    assert raw.getvalue() == "café\n".encode("latin-1")


def test_copy_runs_inside_the_transaction(conn, copy_table):
    import io
    cur = copy_table
    assert conn.status == psycopg2.extensions.STATUS_READY
    cur.copy_from(io.StringIO("1\tx\t\\N\n"), "copied")
    assert conn.status == psycopg2.extensions.STATUS_BEGIN
    assert conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INTRANS
    conn.rollback()
    cur.execute("select count(*) from copied")
    assert cur.fetchone() == (0,)


def test_a_copy_file_using_its_own_connection_is_refused_not_hung(conn, copy_table):
    import io
    cur = copy_table
    other = conn.cursor()

    class Meddler(io.StringIO):
        def read(self, size=-1):
            other.execute("select 1")
            return ""

    with pytest.raises(psycopg2.extensions.QueryCanceledError) as info:
        cur.copy_from(Meddler(), "copied")
    assert isinstance(info.value.__cause__, psycopg2.InterfaceError)
    assert "cannot use the connection it is copying on" in str(info.value.__cause__)
    conn.rollback()
    other.execute("select 2")
    assert other.fetchone() == (2,)


def test_pooled_connection_copies_and_gives_its_server_connection_back():
    import io

    from psycopg2._connection import connection
    pool = {"pool_name": "copy-test", "min_size": 0, "max_size": 2, "acquire_timeout": 5.0}
    c = connection(URL, _pool=pool)
    try:
        c.autocommit = True
        cur = c.cursor()
        cur.execute("create table if not exists copy_pool_test (v int)")
        cur.execute("truncate copy_pool_test")
        cur.copy_from(io.StringIO("".join("%d\n" % i for i in range(1000))), "copy_pool_test")
        assert cur.rowcount == 1000
        assert not c._pq.leased  # autocommit: back in the pool after the statement
        out = io.StringIO()
        cur.copy_to(out, "copy_pool_test")
        assert len(out.getvalue().splitlines()) == 1000
        assert not c._pq.leased
        with pytest.raises(psycopg2.DataError):
            cur.copy_from(io.StringIO("nope\n"), "copy_pool_test")
        assert not c._pq.leased
        cur.execute("drop table copy_pool_test")
    finally:
        c.close()
