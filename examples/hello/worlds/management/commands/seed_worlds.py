import random

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from worlds.models import World


class Command(BaseCommand):
    help = "Fills the world table with COUNT rows of random numbers (replacing what was there)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10000)

    def handle(self, *args, count, **options):
        if count < 1:
            raise CommandError(f"--count must be at least 1, got {count}")
        with transaction.atomic():
            World.objects.all().delete()
            World.objects.bulk_create(
                World(randomnumber=random.randint(1, 10000)) for _ in range(count))
        self.stdout.write(self.style.SUCCESS(f"Seeded {World.objects.count()} worlds."))
