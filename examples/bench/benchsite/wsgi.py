"""The WSGI entry point every server loads: /plaintext is answered before Django (a bare WSGI
callable: the server's own overhead), everything else by Django."""
import os

from django.core.wsgi import get_wsgi_application

from benchsite.plaintext import plaintext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
django_application = get_wsgi_application()


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/plaintext":
        return plaintext(environ, start_response)
    return django_application(environ, start_response)
