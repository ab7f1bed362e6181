from django.db import models


class Note(models.Model):
    text = models.TextField()
    written = models.DateTimeField(auto_now_add=True)
