"""`query_and_params(queryset)`: the SQL Django would run for a queryset, and its parameters,
for running it elsewhere (the native runtime, a GraphQL layer) with psycopg2's conventions."""
from django.db import connections


def query_and_params(queryset):
    """Returns (sql, params): the SELECT Django runs to evaluate `queryset`, compiled by the
    queryset's own database connection (`queryset.db`), with `%s` placeholders and literal
    percent signs doubled (`%%`), as psycopg2's cursor.execute(sql, params) expects. Always
    execute it WITH params (an empty tuple too), or `%%` would reach the server as written.

    A queryset that can match nothing (`.none()`, `id__in=[]`) gives a query that returns no
    rows rather than raising EmptyResultSet. The rows are those of values_list() order: one
    column per selected field, in the model's field order for a plain queryset."""
    from django.db.models import QuerySet

    if not isinstance(queryset, QuerySet):
        raise TypeError(f"query_and_params() needs a QuerySet, got {type(queryset).__name__}")
    using = queryset.db
    compiler = queryset.query.get_compiler(using=using, connection=connections[using],
                                           elide_empty=False)
    sql, params = compiler.as_sql()
    return sql, tuple(params)
