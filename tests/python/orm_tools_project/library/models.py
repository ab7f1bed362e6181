from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)
    born = models.DateField(null=True)

    class Meta:
        app_label = "library"


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=200)
    published = models.DateField()
    added = models.DateTimeField()
    price = models.DecimalField(max_digits=8, decimal_places=2)
    tags = models.JSONField(default=list)

    class Meta:
        app_label = "library"
