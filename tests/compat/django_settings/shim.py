"""The run under test: our engine on the psycopg2 shim. Only the ENGINE differs from
reference.py; $DJANGO_SUITE_SHIM_ENGINE replaces it for the runner's self-check
(django_suite.py --shim-engine)."""
import os

from django_settings.common import *  # noqa: F401,F403
from django_settings.common import databases

DATABASES = databases(
    os.environ.get("DJANGO_SUITE_SHIM_ENGINE", "django_puff.db.backends.postgresql")
)
