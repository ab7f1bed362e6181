"""gunicorn config for the gevent peer of `scripts/bench http`: psycogreen makes psycopg2's waits
cooperative in each worker (gunicorn's documented way to run Django on gevent)."""


def post_fork(server, worker):
    from psycogreen.gevent import patch_psycopg
    patch_psycopg()
