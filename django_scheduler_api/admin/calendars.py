"""Calendars in the admin: the API's rules and operations (``calendars``) behind a plain form.

Lists are edited one entry a line (a range as ``2026-12-24 2026-12-31``), then checked by the same
functions as the API's body, so the admin refuses the same entries with the same words. Saving goes
through ``calendars.save_calendar`` (the jobs that name the calendar get their next fire recomputed,
and a change that would leave one without any fire is refused on the form); a calendar that jobs
name cannot be deleted, which the admin's delete page shows as it shows protected objects.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from django_scheduler_api import calendars
from django_scheduler_api.admin.display import admin_link
from django_scheduler_api.models import Calendar

LINES = forms.Textarea(attrs={"rows": 5, "cols": 40})


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _range(line: str) -> Any:
    """``2026-12-24 2026-12-31`` (or ``..``/``to`` between) -> the API's ``{"start", "end"}``."""
    parts = line.replace("..", " ").replace(" to ", " ").split()
    return {"start": parts[0], "end": parts[1]} if len(parts) == 2 else line


class CalendarAdminForm(forms.ModelForm):
    """A calendar with each list as lines of text, checked by the API's rules."""

    dates = forms.CharField(required=False, widget=LINES, help_text="One date a line, YYYY-MM-DD.")
    date_ranges = forms.CharField(
        required=False,
        widget=LINES,
        help_text="One range a line: first and last day, e.g. 2026-12-24 2026-12-31.",
    )
    yearly_dates = forms.CharField(
        required=False,
        widget=LINES,
        help_text="One day a line, MM-DD, excluded every year (02-29: leap years).",
    )
    cron_expressions = forms.CharField(
        required=False,
        widget=LINES,
        help_text="One Quartz cron expression a line; every second it selects is excluded.",
    )

    class Meta:
        model = Calendar
        fields = calendars.CALENDAR_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        calendar = self.instance
        if not calendar._state.adding:
            self.initial["dates"] = "\n".join(calendar.dates)
            self.initial["date_ranges"] = "\n".join(f"{r['start']} {r['end']}" for r in calendar.date_ranges)
            self.initial["yearly_dates"] = "\n".join(calendar.yearly_dates)
            self.initial["cron_expressions"] = "\n".join(calendar.cron_expressions)

    def clean_dates(self) -> list[str]:
        return calendars.validate_dates(_lines(self.cleaned_data["dates"]))

    def clean_date_ranges(self) -> list[dict[str, str]]:
        return calendars.validate_date_ranges(
            [_range(line) for line in _lines(self.cleaned_data["date_ranges"])]
        )

    def clean_yearly_dates(self) -> list[str]:
        return calendars.validate_yearly_dates(_lines(self.cleaned_data["yearly_dates"]))

    def clean_cron_expressions(self) -> list[str]:
        return calendars.validate_cron_expressions(_lines(self.cleaned_data["cron_expressions"]))

    def clean(self) -> dict[str, Any]:
        """A change that would leave a job naming the calendar without any fire is refused here,
        with the words ``save_calendar`` would refuse it with."""
        cleaned = super().clean()
        if not self.errors and not self.instance._state.adding:
            proposed = {name: cleaned.get(name) for name in calendars.CALENDAR_FIELDS if name != "id"}
            try:
                calendars.check_change(self.instance.pk, SimpleNamespace(**proposed))
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["non_field_errors"]) from None
        return cleaned

    def calendar_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name != "id"}


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    """Calendars: list, edit with the API's rules, delete unless jobs name them."""

    form = CalendarAdminForm
    list_display = ("id", "description", "exclusions", "used_by")
    search_fields = ("id", "description")
    ordering = ("id",)
    readonly_fields = ("used_by", "created_at", "updated_at")
    fields = (*calendars.CALENDAR_FIELDS, "used_by", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Calendar | None = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return ("id", *fields) if obj is not None else fields

    @admin.display(description="Exclusions")
    def exclusions(self, calendar: Calendar) -> str:
        counts = (
            (len(calendar.dates), "dates"),
            (len(calendar.date_ranges), "ranges"),
            (len(calendar.yearly_dates), "yearly"),
            (len(calendar.cron_expressions), "cron"),
        )
        return ", ".join(f"{n} {kind}" for n, kind in counts if n) or "none"

    @admin.display(description="Jobs naming it")
    def used_by(self, calendar: Calendar) -> Any:
        if calendar._state.adding:
            return "-"
        jobs = calendars.jobs_using(calendar.pk)
        if not jobs:
            return "none"
        return format_html(
            ", ".join(["{}"] * len(jobs)), *(admin_link("job", job.pk, job.pk) for job in jobs)
        )

    def save_form(self, request: HttpRequest, form: CalendarAdminForm, change: bool) -> Calendar:
        """Save through ``calendars.save_calendar``, as the API does (its jobs replanned)."""
        unsaved = super().save_form(request, form, change)
        saved, _ = calendars.save_calendar(unsaved.pk, form.calendar_fields())
        return saved

    def save_model(self, request: HttpRequest, obj: Calendar, form: CalendarAdminForm, change: bool) -> None:
        """Nothing left to do: ``save_form`` saved the calendar through ``calendars``."""

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        """Jobs naming a calendar protect it: the delete page lists them and deletes nothing."""
        deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
        users = [job for calendar in objs for job in calendars.jobs_using(calendar.pk)]
        protected = [*protected, *(admin_link("job", job.pk, f"Job: {job.pk}") for job in users)]
        return deleted, counts, perms, protected

    def delete_model(self, request: HttpRequest, obj: Calendar) -> None:
        calendars.delete_calendar(obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Calendar]) -> None:
        for calendar_id in queryset.order_by("id").values_list("id", flat=True):
            calendars.delete_calendar(calendar_id)
