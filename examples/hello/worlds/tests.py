from django.core.management import call_command
from django.test import TestCase

from worlds.models import World


class SeedWorldsTests(TestCase):
    def test_seed_worlds_fills_the_table(self):
        call_command("seed_worlds", "--count", "7", stdout=open("/dev/null", "w"))
        self.assertEqual(World.objects.count(), 7)
        self.assertTrue(all(1 <= w.randomnumber <= 10000 for w in World.objects.all()))


class ViewTests(TestCase):
    def test_hello(self):
        self.assertEqual(self.client.get("/json/").json(), {"message": "Hello, World!"})

    def test_random_world(self):
        world = World.objects.create(randomnumber=42)
        self.assertEqual(self.client.get("/db/").json(), {"id": world.id, "randomNumber": 42})

    def test_no_worlds_is_404(self):
        self.assertEqual(self.client.get("/db/").status_code, 404)
