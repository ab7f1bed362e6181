"""Django's PBKDF2 password hasher with the key derivation off the hub.

A login or a password change derives a key with PBKDF2: 1,000,000 rounds of SHA-256 in
Django 5.2, about a quarter of a second of CPU. On puff's hub that stops every other request
of the worker meanwhile (the watchdog says so). hashlib releases the GIL while it derives, so
on puff's blocking pool (`puff.run_blocking`) the hub goes on serving. The algorithm, the
format and the iterations are Django's: hashes made by either hasher verify with the other.
It takes the place of Django's PBKDF2PasswordHasher (both are "pbkdf2_sha256": list one only).

    PASSWORD_HASHERS = [
        "django_puff.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",  # Django's others, as before
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        ...
    ]

Outside a puff task (plain python, `manage.py`, a thread) it derives in place, as Django's."""
import logging

from django.conf import settings
from django.contrib.auth import hashers

try:
    import puff
except ImportError:  # plain python: puff is a built-in module of the puff executable only
    puff = None


_DJANGOS = "django.contrib.auth.hashers.PBKDF2PasswordHasher"


class PBKDF2PasswordHasher(hashers.PBKDF2PasswordHasher):
    def __init__(self):
        super().__init__()
        # Made once per PASSWORD_HASHERS (Django caches get_hashers()). Django looks hashes up
        # by algorithm, and the last hasher of a name wins: with both listed, every login
        # would verify on Django's, silently blocking the hub again.
        if _DJANGOS in getattr(settings, "PASSWORD_HASHERS", ()):
            logging.getLogger("django_puff").warning(
                "PASSWORD_HASHERS lists both %s and django_puff.hashers.PBKDF2PasswordHasher; "
                "they share the algorithm pbkdf2_sha256 and Django uses the last one listed: "
                "remove %s", _DJANGOS, _DJANGOS)

    def encode(self, password, salt, iterations=None):
        derive = super().encode
        if puff is not None and puff.is_hub():
            return puff.run_blocking(derive, password, salt, iterations)
        return derive(password, salt, iterations)
