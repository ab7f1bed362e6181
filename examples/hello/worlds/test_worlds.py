"""The pytest-django suite of the example: `puff pytest` (or plain `pytest`) in this folder.
worlds/tests.py is the same kind of check as Django TestCases for `puff django test`."""
import json
import subprocess
import sys
import urllib.request

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from worlds.models import World


def test_hello_needs_no_database(client):
    assert client.get("/json/").json() == {"message": "Hello, World!"}


@pytest.mark.django_db
def test_random_world_is_served_from_the_database(client):
    world = World.objects.create(randomnumber=42)
    assert client.get("/db/").json() == {"id": world.id, "randomNumber": 42}


@pytest.mark.django_db
def test_no_worlds_is_404(client):
    assert client.get("/db/").status_code == 404


@pytest.mark.django_db
def test_seed_worlds_fills_the_table():
    call_command("seed_worlds", "--count", "25", stdout=open("/dev/null", "w"))
    assert World.objects.count() == 25
    assert all(1 <= w.randomnumber <= 10000 for w in World.objects.all())


@pytest.mark.django_db
def test_count_view_sees_the_test_transaction(client):
    World.objects.bulk_create(World(randomnumber=n) for n in range(1, 4))
    assert client.get("/worlds/count/").json() == {"count": 3}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_block_leaves_nothing_behind():
    # transaction=True: real commits and rollbacks, the table truncated after the test.
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            World.objects.create(randomnumber=1)
            raise RuntimeError("roll back")
    World.objects.create(randomnumber=2)
    assert list(World.objects.values_list("randomnumber", flat=True)) == [2]
    assert connection.get_autocommit()


@pytest.mark.django_db
def test_index_page_counts_the_worlds(client):
    World.objects.bulk_create(World(randomnumber=n) for n in (1, 2))
    response = client.get("/")
    assert response.status_code == 200 and b"<h1>2 worlds</h1>" in response.content


@pytest.mark.django_db
def test_admin_changes_a_world(admin_client):
    world = World.objects.create(randomnumber=1)
    response = admin_client.post(f"/admin/worlds/world/{world.id}/change/",
                                 {"randomnumber": "77"})
    assert response.status_code == 302
    world.refresh_from_db()
    assert world.randomnumber == 77


def test_live_server_serves_from_its_own_thread(live_server):
    # live_server: Django's threaded server on a free port, the database rows committed
    # (pytest-django makes it a transactional test).
    World.objects.create(randomnumber=7)
    with urllib.request.urlopen(live_server.url + "/worlds/count/", timeout=10) as response:
        assert json.load(response) == {"count": 1}


def test_a_subprocess_of_sys_executable_works():
    # Tests may start the interpreter they run on (here, Django's check in a plain process).
    done = subprocess.run([sys.executable, "manage.py", "check"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
