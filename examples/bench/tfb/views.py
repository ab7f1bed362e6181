"""The benchmark's Django views (TechEmpower's rules: one query per row, escaping templates)."""
from random import randint

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render

from tfb.models import Fortune, World

CACHE_KEYS = [f"bench:{i}" for i in range(10)]


def _count(request):
    try:
        n = int(request.GET.get("n", 1))
    except ValueError:
        n = 1
    return min(max(n, 1), 500)


def _world(world):
    return {"id": world.id, "randomNumber": world.randomnumber}


def json_view(request):
    return JsonResponse({"message": "Hello, World!"})


def db(request):
    return JsonResponse(_world(World.objects.get(id=randint(1, 10000))))


def queries(request):
    worlds = [_world(World.objects.get(id=randint(1, 10000))) for _ in range(_count(request))]
    return JsonResponse(worlds, safe=False)


def fortunes(request):
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=lambda f: f.message)
    return render(request, "fortunes.html", {"fortunes": rows})


def updates(request):
    worlds = [World.objects.get(id=randint(1, 10000)) for _ in range(_count(request))]
    for world in worlds:
        world.randomnumber = randint(1, 10000)
    World.objects.bulk_update(worlds, ["randomnumber"])
    return JsonResponse([_world(w) for w in worlds], safe=False)


def io_wait(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.01)")
    return HttpResponse(b"ok", content_type="text/plain")


def cache_view(request):
    values = cache.get_many(CACHE_KEYS)
    cache.set(f"bench:hit:{randint(1, 100)}", len(values), timeout=60)
    return JsonResponse({"found": len(values)})


def form(request):
    """A form post (the slow-client bench sends its body slowly)."""
    return JsonResponse({"fields": len(request.POST)})


STREAM_CHUNK = b"x" * 65536


def stream(request):
    """64 KiB chunks, ?n of them (the slow-client bench does not read them)."""
    return StreamingHttpResponse((STREAM_CHUNK for _ in range(_count(request))),
                                 content_type="application/octet-stream")
