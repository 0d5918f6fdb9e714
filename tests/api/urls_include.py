"""A project that includes the app the conventional way, under another prefix and a namespace."""

from django.urls import include, path

urlpatterns = [
    path("api/sched/", include("django_scheduler_api.urls", namespace="sched")),
]
