import random

from django.http import Http404, JsonResponse

from worlds.models import World


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
