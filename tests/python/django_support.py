"""A Django project on puff's engine for the tests that run it under the real binary:
settings.py for one PostgreSQL database and sampler.py, which watches the server's view of the
pool (the peak number of backends with the project's application_name)."""
from urllib.parse import unquote, urlparse


def write_django_project(project, url, pool='{"max_size": 10}', app_name="puff-pool-test",
                         password=None):
    """Writes settings.py and sampler.py into `project`; returns the env to run it with.
    `pool` is OPTIONS["pool"] as Python source (None: leave it out)."""
    u = urlparse(url)
    options = f'"application_name": {app_name!r}'
    if pool is not None:
        options += f', "pool": {pool}'
    project.write("settings.py", f"""
        SECRET_KEY = "test"
        USE_TZ = True
        INSTALLED_APPS = []
        DATABASES = {{"default": {{
            "ENGINE": "django_puff.db.backends.postgresql",
            "NAME": {u.path.lstrip('/')!r}, "USER": {unquote(u.username)!r},
            "PASSWORD": {password or ''!r}, "HOST": {u.hostname!r}, "PORT": {u.port!r},
            "OPTIONS": {{{options}}},
        }}}}
    """)
    project.write("sampler.py", f"""
        import psycopg2, puff

        class MaxBackends:
            '''Samples pg_stat_activity on its own (dedicated) connection.'''
            def __init__(self):
                self.max = 0
                self.running = True
                self.conn = psycopg2.connect({url!r})
                self.conn.autocommit = True
                self.task = puff.spawn(self._loop)

            def _loop(self):
                cur = self.conn.cursor()
                while self.running:
                    cur.execute("select count(*) from pg_stat_activity "
                                "where application_name = %s", [{app_name!r}])
                    self.max = max(self.max, cur.fetchone()[0])
                    puff.sleep(0.01)

            def stop(self):
                self.running = False
                self.task.join()
                self.conn.close()
                return self.max
    """)
    return {"DJANGO_SETTINGS_MODULE": "settings"}
