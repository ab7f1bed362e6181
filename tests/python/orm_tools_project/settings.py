"""Settings of the project tests/python/test_orm_tools.py runs `puff pytest` and `python -m
pytest` on: one app, the database of $ORM_TOOLS_DATABASE_URL on puff's engine."""
import os
from urllib.parse import unquote, urlparse

_url = urlparse(os.environ["ORM_TOOLS_DATABASE_URL"])
SECRET_KEY = "test"
USE_TZ = True
TIME_ZONE = "Europe/Paris"  # not the server's: datetimes must still compare equal
INSTALLED_APPS = ["library"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": {
    "ENGINE": "django_puff.db.backends.postgresql",
    "NAME": _url.path.lstrip("/"), "USER": unquote(_url.username or ""),
    "PASSWORD": unquote(_url.password or ""), "HOST": _url.hostname, "PORT": _url.port,
}}
