from django.contrib import admin
from django.contrib.staticfiles.views import serve
from django.urls import path, re_path

from django_scheduler_api.urls import mount

urlpatterns = [
    path("admin/", admin.site.urls),
    # Every path of the API, /scheduler itself included, with and without a trailing slash.
    mount("scheduler/"),
    # The admin's and the browsable API's CSS and scripts, also with DEBUG off (runserver serves
    # static files only with DEBUG). A production site serves them from its web server instead.
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
