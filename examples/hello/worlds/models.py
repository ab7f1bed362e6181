from django.db import models


class World(models.Model):
    """TechEmpower's table: a row per id with a random number in 1..10000."""

    randomnumber = models.IntegerField()

    class Meta:
        db_table = "world"

    def __str__(self):
        return f"World {self.id}: {self.randomnumber}"
