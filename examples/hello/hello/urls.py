from django.urls import path

from worlds import views

urlpatterns = [
    path("json/", views.hello),
    path("db/", views.random_world),
    path("worlds/count/", views.world_count),
]
