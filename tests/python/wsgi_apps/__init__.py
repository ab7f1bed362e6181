"""Small WSGI applications served by `puff runserver` in tests/python/test_http_*.py."""
