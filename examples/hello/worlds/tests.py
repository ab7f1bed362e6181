from django.contrib.auth.models import User
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


class PageTests(TestCase):
    def test_index_renders_the_largest_numbers_from_its_template(self):
        World.objects.bulk_create(World(randomnumber=n) for n in (5, 9000, 42))
        response = self.client.get("/")
        self.assertTemplateUsed(response, "worlds/index.html")
        self.assertContains(response, "<h1>3 worlds</h1>", html=True)
        self.assertEqual([w.randomnumber for w in response.context["largest"]], [9000, 42, 5])

    def test_admin_lists_the_worlds_for_a_superuser(self):
        World.objects.create(randomnumber=1234)
        self.assertEqual(self.client.get("/admin/worlds/world/").status_code, 302)  # to login
        self.client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
        self.assertContains(self.client.get("/admin/worlds/world/"), "1234")
