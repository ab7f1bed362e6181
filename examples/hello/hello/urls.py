from django.contrib import admin
from django.urls import path

from worlds import views

urlpatterns = [
    path("", views.index, name="index"),
    path("json/", views.hello),
    path("db/", views.random_world),
    path("worlds/count/", views.world_count),
    path("admin/", admin.site.urls),
]
