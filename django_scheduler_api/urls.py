"""URLs of the scheduler API; ``include('django_scheduler_api.urls')`` them under any prefix."""

urlpatterns: list = []
