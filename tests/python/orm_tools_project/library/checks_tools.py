"""query_and_params and borrow_db_context against the real server, run by
tests/python/test_orm_tools.py under `puff pytest` and under plain `python -m pytest`."""
import datetime
import json
import sys
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Sum
from django.db.models.functions import Lower, TruncMonth

import psycopg2
from django_puff import borrow_db_context, query_and_params
from library.models import Author, Book

IN_PUFF = "puff" in sys.builtin_module_names
UTC = datetime.UTC


def native_connection(autocommit=False):
    """A connection of puff's driver to the test database, of its own (not Django's)."""
    s = connection.settings_dict
    conn = psycopg2.connect(dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"],
                            host=s["HOST"], port=s["PORT"])
    conn.autocommit = autocommit
    return conn


@pytest.fixture
def books():
    ada = Author.objects.create(name="Ada", born=datetime.date(1815, 12, 10))
    bob = Author.objects.create(name="Bob O'Brien", born=None)
    cy = Author.objects.create(name="Cy 100%_sure")
    rows = [
        (ada, "Analytical Notes", datetime.date(1843, 9, 1), "12.50", ["math", "engines"]),
        (ada, "A 50% Discount_Book", datetime.date(2020, 2, 29), "5.00", ["sale"]),
        (bob, "Bread & Butter", datetime.date(2020, 7, 4), "19.99", []),
        (bob, "back to basics", datetime.date(2021, 1, 15), "7.25", ["math"]),
        (cy, "Percent_Signs 100%", datetime.date(2021, 1, 31), "100.00", ["sale", "math"]),
    ]
    for i, (author, title, published, price, tags) in enumerate(rows):
        Book.objects.create(author=author, title=title, published=published,
                            price=Decimal(price), tags=tags,
                            added=datetime.datetime(2024, 1, 1 + i, 12, 30, tzinfo=UTC))
    return {"ada": ada, "bob": bob, "cy": cy}


def run_pair(queryset, conn):
    sql, params = query_and_params(queryset)
    assert "%s" in sql or not params
    cur = conn.cursor()
    cur.execute(sql, params)
    return cur.fetchall()


QUERYSETS = {
    "filter": lambda: Book.objects.filter(price__gt=Decimal("6")).values_list("id", "title"),
    "join": lambda: Book.objects.filter(author__name="Ada").values_list("title", "author__born"),
    "select_related": lambda: Book.objects.select_related("author").order_by("id").values_list(
        "title", "author__name"),
    "annotation": lambda: Author.objects.annotate(n=Count("books"), top=Max("books__price"))
        .order_by("name").values_list("name", "n", "top"),
    "group_by": lambda: Book.objects.values("author__name").annotate(total=Sum("price"))
        .order_by("-total").values_list("author__name", "total"),
    "ordering_slice": lambda: Book.objects.order_by("-price", "id").values_list("title")[1:4],
    "contains_percent": lambda: Book.objects.filter(title__contains="50%").values_list("title"),
    "contains_underscore": lambda: Book.objects.filter(title__contains="_").values_list("title"),
    "icontains_percent": lambda: Book.objects.filter(title__icontains="100%").values_list("id"),
    "startswith_quote": lambda: Author.objects.filter(name__startswith="Bob O'").values_list("id"),
    "endswith": lambda: Book.objects.filter(title__endswith="%").values_list("title"),
    "literal_percent": lambda: Book.objects.annotate(t=Lower("title")).filter(
        t__contains="%").values_list("t"),
    "in_list": lambda: Book.objects.filter(published__year__in=[1843, 2021]).values_list("title"),
    "in_empty": lambda: Book.objects.filter(id__in=[]).values_list("id"),
    "none": lambda: Book.objects.none().values_list("id"),
    "dates": lambda: Book.objects.filter(published__range=(datetime.date(2020, 1, 1),
                                                            datetime.date(2020, 12, 31)))
        .values_list("published", "added"),
    "datetime_filter": lambda: Book.objects.filter(
        added__gte=datetime.datetime(2024, 1, 3, tzinfo=UTC)).values_list("added"),
    "trunc_month": lambda: Book.objects.annotate(m=TruncMonth("published")).values_list("m"),
    "year_lookup": lambda: Book.objects.filter(published__year=2020).values_list("id"),
    "q_and_not": lambda: Book.objects.filter(Q(price__lt=10) | ~Q(author__name="Bob O'Brien"))
        .values_list("id"),
    "f_expression": lambda: Book.objects.annotate(double=F("price") * 2).filter(
        double__gt=30).values_list("title", "double"),
    "exists": lambda: Author.objects.filter(Exists(Book.objects.filter(
        author=OuterRef("pk"), tags__contains=["math"]))).values_list("name"),
    "json": lambda: Book.objects.filter(tags__contains=["sale"]).values_list("title", "tags"),
    "null": lambda: Author.objects.filter(born__isnull=True).values_list("name"),
    "distinct": lambda: Book.objects.values_list("author_id", flat=True).distinct(),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(QUERYSETS))
def test_the_pair_gives_the_querysets_rows(books, name):
    queryset = QUERYSETS[name]()
    expected = list(queryset)
    if name not in ("in_empty", "none"):
        assert expected, "the case should select something"
    conn = native_connection()
    try:
        rows = run_pair(queryset, conn)
    finally:
        conn.close()
    if name == "distinct":
        rows = [row[0] for row in rows]  # values_list(flat=True)
    if name == "trunc_month":
        rows = [(moment.date(),) for (moment,) in rows]  # Django's converter makes it a date
    if name == "json":
        assert all(isinstance(tags, list) for _, tags in rows)  # the driver's jsonb loader
    assert rows == expected


@pytest.mark.django_db
def test_a_model_queryset_selects_every_field_in_order(books):
    queryset = Book.objects.filter(author=books["ada"]).order_by("id")
    sql, params = query_and_params(queryset)
    # Django's own driver connection, in the test's transaction. Its jsonb comes as text (Django
    # registers that loader on its connections and decodes in JSONField.from_db_value).
    cur = connection.connection.cursor()
    cur.execute(sql, params)
    got = cur.fetchall()
    fields = [f.attname for f in Book._meta.concrete_fields]
    assert fields[-1] == "tags"
    assert [(*r[:-1], json.loads(r[-1])) for r in got] == [
        tuple(getattr(b, f) for f in fields) for b in queryset]


@pytest.mark.django_db
def test_not_a_queryset_is_a_type_error():
    with pytest.raises(TypeError, match="needs a QuerySet, got Manager"):
        query_and_params(Book.objects)


# --- borrow_db_context -------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_writes_join_the_borrowed_transaction_and_commit_with_it():
    own = connections["default"]
    conn = native_connection()
    try:
        with borrow_db_context(conn) as wrapper:
            assert connections["default"] is wrapper is not own
            Author.objects.create(name="borrowed")
            with connection.cursor() as cur:  # the same session
                cur.execute("select pg_backend_pid()")
                assert cur.fetchone()[0] == conn.get_backend_pid()
            assert Author.objects.filter(name="borrowed").count() == 1
        assert connections["default"] is own
        assert not Author.objects.filter(name="borrowed").exists()  # not committed yet
        conn.commit()
        assert Author.objects.filter(name="borrowed").count() == 1
        assert not conn.closed
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_a_rollback_of_the_borrowed_connection_undoes_the_orm_writes():
    conn = native_connection()
    try:
        with borrow_db_context(conn):
            Author.objects.create(name="gone")
            Book.objects.filter(title="nothing").update(title="x")
        conn.rollback()
        with borrow_db_context(conn):
            assert not Author.objects.filter(name="gone").exists()
        assert not Author.objects.filter(name="gone").exists()
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_atomic_inside_is_a_savepoint_of_the_borrowed_transaction():
    conn = native_connection()
    try:
        with borrow_db_context(conn):
            Author.objects.create(name="kept")
            with pytest.raises(RuntimeError):
                with transaction.atomic():
                    Author.objects.create(name="rolled back to the savepoint")
                    raise RuntimeError
            assert list(Author.objects.values_list("name", flat=True)) == ["kept"]
        assert conn.status == psycopg2.extensions.STATUS_IN_TRANSACTION
        conn.commit()
        assert list(Author.objects.values_list("name", flat=True)) == ["kept"]
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_an_autocommit_connection_commits_each_statement_and_atomic_blocks():
    conn = native_connection(autocommit=True)
    try:
        with borrow_db_context(conn):
            Author.objects.create(name="at once")
            with pytest.raises(RuntimeError):
                with transaction.atomic():
                    Author.objects.create(name="never")
                    raise RuntimeError
        assert conn.autocommit
        assert list(Author.objects.values_list("name", flat=True)) == ["at once"]
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_an_exception_restores_the_own_connection_and_leaves_the_borrowed_one_usable():
    own = connections["default"]
    conn = native_connection()
    try:
        with pytest.raises(DatabaseError):
            with borrow_db_context(conn):
                Author.objects.create(name="before the error")
                with connection.cursor() as cur:
                    cur.execute("select * from no_such_table")
        assert connections["default"] is own
        assert Author.objects.count() == 0  # Django's own connection never saw it
        conn.rollback()
        cur = conn.cursor()
        cur.execute("select count(*) from library_author")
        assert cur.fetchone() == (0,)
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_as_a_decorator_and_nested():
    first, second = native_connection(), native_connection()
    try:
        @borrow_db_context(second)
        def write(name):
            assert connections["default"].connection is second
            Author.objects.create(name=name)

        with borrow_db_context(first):
            Author.objects.create(name="first")
            write("second")
            assert connections["default"].connection is first
            assert list(Author.objects.values_list("name", flat=True)) == ["first"]
        write("again")
        second.commit()
        first.rollback()
        assert sorted(Author.objects.values_list("name", flat=True)) == ["again", "second"]
    finally:
        first.close()
        second.close()


@pytest.mark.skipif(not IN_PUFF, reason="greenlets on the hub: under puff only")
@pytest.mark.django_db(transaction=True)
def test_each_greenlet_borrows_for_itself():
    import puff

    conns = [native_connection() for _ in range(3)]
    try:
        @borrow_db_context(conns[0])
        def in_first():
            puff.sleep(0.05)  # the others run meanwhile
            return connections["default"].connection

        def plain():
            puff.sleep(0.01)
            Author.objects.create(name="own")
            return connections["default"].connection

        tasks = [puff.spawn(in_first), puff.spawn(plain)]
        with borrow_db_context(conns[1]):
            results = [t.join() for t in tasks]
            assert connections["default"].connection is conns[1]
        assert results[0] is conns[0]
        assert results[1] not in conns
        assert Author.objects.filter(name="own").count() == 1  # committed by its own greenlet
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.django_db
def test_bad_arguments_are_refused_before_the_scope():
    with pytest.raises(TypeError, match="needs a connection of puff's psycopg2 driver, got str"):
        borrow_db_context("postgresql://somewhere")
    conn = native_connection()
    with pytest.raises(KeyError, match="no database 'nope'"):
        borrow_db_context(conn, using="nope")
    conn.close()
    with pytest.raises(ValueError, match="the connection is closed"):
        with borrow_db_context(conn):
            pass
