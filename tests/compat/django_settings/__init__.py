"""Settings, test runner and `puff python` entry point for running Django's own test suite
(tests/compat/django_suite.py puts this folder's parent on PYTHONPATH)."""
