"""Django integration of puff: the database engine (django_puff.db.backends.postgresql), the
`puff pytest` support (django_puff.testing), and tools for code that mixes the ORM with the
native driver: query_and_params(queryset) and borrow_db_context(conn)."""


def __getattr__(name):
    # Lazy: the engine imports this package while Django's settings are still loading.
    if name == "query_and_params":
        from django_puff.query_sql import query_and_params
        return query_and_params
    if name == "borrow_db_context":
        from django_puff.borrowed_connection import borrow_db_context
        return borrow_db_context
    raise AttributeError(f"module 'django_puff' has no attribute '{name}'")


__all__ = ["query_and_params", "borrow_db_context"]
