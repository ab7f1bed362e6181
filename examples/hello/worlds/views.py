import random

from django.http import Http404, JsonResponse
from django.shortcuts import render

from worlds.models import World


def index(request):
    """An HTML page from a template: the table's size and its ten largest numbers."""
    return render(request, "worlds/index.html", {
        "count": World.objects.count(),
        "largest": World.objects.order_by("-randomnumber", "id")[:10],
    })


def hello(request):
    return JsonResponse({"message": "Hello, World!"})


def random_world(request):
    count = World.objects.count()
    if count == 0:
        raise Http404("no worlds yet: run `puff django seed_worlds`")
    world = World.objects.order_by("id")[random.randrange(count)]
    return JsonResponse({"id": world.id, "randomNumber": world.randomnumber})


def world_count(request):
    return JsonResponse({"count": World.objects.count()})
