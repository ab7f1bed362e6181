from django.contrib import admin

from worlds.models import World


@admin.register(World)
class WorldAdmin(admin.ModelAdmin):
    list_display = ("id", "randomnumber")
    ordering = ("id",)
    search_fields = ("=id",)  # a world by its number
    list_per_page = 50
