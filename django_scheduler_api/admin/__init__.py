"""The Django admin for the scheduler: jobs (managed through ``services``), calendars, and executions
(read-only).

The admin is one more way to manage jobs next to the REST API and the CLI, so it validates with the
same rules (``validation``) and changes jobs through the same operations (``services``): a job paused,
triggered or deleted from the admin behaves exactly as one handled through the API.
"""

from django_scheduler_api.admin.calendars import CalendarAdmin
from django_scheduler_api.admin.dashboard import DashboardAdmin
from django_scheduler_api.admin.executions import ExecutionAdmin
from django_scheduler_api.admin.jobs import JobAdmin

__all__ = ["CalendarAdmin", "DashboardAdmin", "ExecutionAdmin", "JobAdmin"]
