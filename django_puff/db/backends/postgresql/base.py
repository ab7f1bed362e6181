"""ENGINE = "django_puff.db.backends.postgresql": Django's PostgreSQL backend on puff's driver.

Django's own backend module is reused as is; what changes is underneath it: the driver is
puff's psycopg2 shim (also when psycopg 3 is installed, which Django would otherwise prefer),
and every greenlet gets its own Django connection.
"""

import sys

from django.core.exceptions import ImproperlyConfigured

from django_puff.db import idle_connections
from django_puff.db.backends.postgresql import pool_settings


def _load_django_backend_on_the_shim():
    import psycopg2

    if not psycopg2.__version__.endswith("puff)"):
        raise ImproperlyConfigured(
            "django_puff's engine needs puff's psycopg2 driver, but 'import psycopg2' found "
            "another one at %s; uninstall it (pip uninstall psycopg2 psycopg2-binary) and "
            "re-run scripts/bootstrap" % getattr(psycopg2, "__file__", "?"))
    loaded = sys.modules.get("django.db.backends.postgresql.psycopg_any")
    if loaded is not None:
        if loaded.is_psycopg3:
            raise ImproperlyConfigured(
                "Django's postgresql backend was already loaded on psycopg 3 in this process; "
                "django_puff's engine cannot share it. Use ENGINE "
                "'django_puff.db.backends.postgresql' for every PostgreSQL database")
        from django.db.backends.postgresql import base
        return base
    # Hide psycopg (3) while Django's backend picks its driver.
    saved = sys.modules.get("psycopg", None)
    sys.modules["psycopg"] = None
    try:
        from django.db.backends.postgresql import base
    finally:
        if saved is None:
            del sys.modules["psycopg"]
        else:
            sys.modules["psycopg"] = saved
    return base


_django_base = _load_django_backend_on_the_shim()


def _install_greenlet_local_connections():
    from django.db import connections

    from django_puff.db import greenlet_local
    greenlet_local.install(connections, idle_connections.keep_when_done, idle_connections.take)


_install_greenlet_local_connections()


class DatabaseWrapper(_django_base.DatabaseWrapper):
    """Django's PostgreSQL DatabaseWrapper, on puff's driver.

    Under puff (the hub) the connections are pooled: a Django connection borrows a server
    connection for each transaction (each statement in autocommit) from one bounded pool per
    database, so server connections stay bounded however many greenlets run. The pool takes
    its settings from puff.toml's [[postgres]] entry of the alias's name, and OPTIONS["pool"]
    overrides them or turns pooling off (False); see pool_settings.py. In plain python each
    Django connection keeps its own server connection, as with psycopg2.
    """

    @property
    def pool(self):
        # Django's own pool property is psycopg 3's (psycopg_pool); ours lives in the driver.
        return None

    def connect(self):
        super().connect()
        # A pooled connection borrows a server connection per transaction, whose age the pool
        # manages: CONN_MAX_AGE has nothing left to close. Kept open, it can also go to the
        # next greenlet when its own ends (idle_connections.py).
        if self.connection._pooled:
            self.close_at = None
            idle_connections.connected(self)

    def close_pools(self, database=None):
        """Closes every pool to `database` (default: this connection's) on this connection's
        server, idle server connections included, whichever variant of the settings opened it
        (a test that changed TIME_ZONE or OPTIONS for a while, another greenlet's connection):
        a database about to be dropped or copied must have no session left. Not Django's
        close_pool(), which also runs when TIME_ZONE changes, under sessions in use."""
        from psycopg2 import _psycopg
        from psycopg2.extensions import make_dsn

        params = self.get_connection_params()
        if database is not None:
            params["dbname"] = database
        where = {key: params[key] for key in ("host", "hostaddr", "port", "dbname", "user")
                 if params.get(key)}
        _psycopg.close_pools(make_dsn(**where))

    def get_connection_params(self):
        options = self.settings_dict["OPTIONS"]
        pool = pool_settings.resolve(self.alias, options)
        had_pool = "pool" in options
        saved = options.pop("pool", None)
        try:
            params = super().get_connection_params()
        finally:
            if had_pool:
                options["pool"] = saved
        if pool is not None:
            from functools import partial

            from psycopg2._connection import connection

            # Every server connection of the pool starts in Django's time zone: a SET TIME ZONE
            # would be lost when the connection goes back to the pool.
            params["options"] = ("%s -c TimeZone=%s" % (params.get("options", ""),
                                                        self.timezone_name)).strip()
            params["connection_factory"] = partial(connection, _pool=pool)
        return params


class DatabaseCreation(_django_base.DatabaseWrapper.creation_class):
    # Django closed the test connection, but under puff its server connections went back to
    # their pools, idle and still in the test database: DROP DATABASE, or CREATE DATABASE with
    # it as the template (--parallel), would fail with "being accessed by other users".

    def _destroy_test_db(self, test_database_name, verbosity):
        self.connection.close_pools(test_database_name)
        super()._destroy_test_db(test_database_name, verbosity)

    def _clone_test_db(self, suffix, verbosity, keepdb=False):
        self.connection.close()
        self.connection.close_pools()
        super()._clone_test_db(suffix, verbosity, keepdb)


DatabaseWrapper.creation_class = DatabaseCreation
