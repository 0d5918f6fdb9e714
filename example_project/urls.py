from django.contrib import admin
from django.urls import path

from django_scheduler_api.urls import mount

urlpatterns = [
    path("admin/", admin.site.urls),
    # Every path of the API, /scheduler itself included, with and without a trailing slash.
    mount("scheduler/"),
]
