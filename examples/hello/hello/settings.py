"""Settings of the example project. The database comes from PUFF_EXAMPLE_DATABASE_URL
(postgresql://user:password@host:port/name), default postgresql://localhost/hello."""
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "worlds",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
ROOT_URLCONF = "hello.urls"
# Logins derive PBKDF2 keys (~0.25 s of CPU): puff's hasher does it on the blocking pool, so
# the hub serves other requests meanwhile. Same algorithm and format as Django's.
PASSWORD_HASHERS = [
    "django_puff.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
WSGI_APPLICATION = "hello.wsgi.application"


def _database(url):
    parts = urlparse(url)
    return {
        # The swap: puff's engine instead of "django.db.backends.postgresql".
        "ENGINE": "django_puff.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": parts.port or "",
        "OPTIONS": {"connect_timeout": 5},
    }


DATABASES = {
    "default": _database(os.environ.get("PUFF_EXAMPLE_DATABASE_URL",
                                        "postgresql://localhost/hello")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
# `puff django collectstatic` gathers the admin's and the app's files here; puff runserver
# serves them natively (puff.toml: [http] static).
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
