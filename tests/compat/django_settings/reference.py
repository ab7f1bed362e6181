"""The reference run: Django's own postgresql backend on real psycopg2."""
from django_settings.common import *  # noqa: F401,F403
from django_settings.common import databases

DATABASES = databases("django.db.backends.postgresql")
