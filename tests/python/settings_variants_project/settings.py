"""Settings of the project tests/python/test_test_databases.py runs `puff django test` and
`puff pytest` on: one app whose tests change the connection's settings_dict, on puff's engine,
against the database of $VARIANTS_DATABASE_URL."""
import os
from urllib.parse import unquote, urlparse

_url = urlparse(os.environ["VARIANTS_DATABASE_URL"])
SECRET_KEY = "test"
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["variants"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": {
    "ENGINE": "django_puff.db.backends.postgresql",
    "NAME": _url.path.lstrip("/"), "USER": unquote(_url.username or ""),
    "PASSWORD": unquote(_url.password or ""), "HOST": _url.hostname, "PORT": _url.port,
}}
