from django.urls import path

from tfb import views

urlpatterns = [
    path("json", views.json_view),
    path("db", views.db),
    path("queries", views.queries),
    path("fortunes", views.fortunes),
    path("updates", views.updates),
    path("io-wait", views.io_wait),
    path("cache", views.cache_view),
    path("form", views.form),
    path("stream", views.stream),
]
