from django.contrib import admin
from django.urls import path

from django_scheduler_api.urls import mount

urlpatterns = [
    path("admin/", admin.site.urls),
    mount("scheduler/"),
]
