"""The WSGI application every server runs in `scripts/bench http`: /plaintext is a bare WSGI
callable (server overhead alone); everything else is the Django project examples/hello, with
two views added for the bench: /io-wait/ (a 10 ms query) and /one/ (one random row by id)."""
import os
import random

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")

if os.environ.get("BENCH_PSYCOGREEN") == "1":  # gunicorn's gevent worker: cooperative psycopg2
    from psycogreen.gevent import patch_psycopg
    patch_psycopg()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

django_app = get_wsgi_application()

from hello import urls  # noqa: E402
from worlds.models import World  # noqa: E402


def io_wait(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.01)")
    return JsonResponse({"slept": 0.01})


def one(request):
    world = World.objects.get(id=random.randint(1, 10000))
    return JsonResponse({"id": world.id, "randomNumber": world.randomnumber})


urls.urlpatterns += [path("io-wait/", io_wait), path("one/", one)]

HELLO = b"Hello, World!"


def application(environ, start_response):
    if environ["PATH_INFO"] == "/plaintext":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    return django_app(environ, start_response)
