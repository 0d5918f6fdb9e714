"""The job change form: the REST API's validation rules, applied to the admin's fields.

Every rule comes from ``django_scheduler_api.validation`` so that the admin refuses exactly what the
API refuses, with the same message (an unknown handler lists the registered ones, an invalid cron
expression gets the engine's message).
"""

from __future__ import annotations

from typing import Any

from django import forms

from django_scheduler_api import validation
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.models import MAX_INTERVAL, Calendar, Job
from django_scheduler_api.registry import registry


def handler_choices(current: str | None = None) -> list[tuple[str, str]]:
    """The registered handlers for the select, plus the job's current one if it is not registered.

    Keeping an unregistered current value visible lets the form say *why* it is refused (the
    registry's message) instead of silently showing another handler.
    """
    choices = [("", "---------")]
    choices += [(h.name, f"{h.name} — {h.description}" if h.description else h.name) for h in registry]
    if current and current not in registry:
        choices.append((current, f"{current} (not registered)"))
    return choices


def calendar_choices(current: list[str] | None = None) -> list[tuple[str, str]]:
    """Every calendar, plus any the job names that no longer exists (so the form says why it is
    refused rather than dropping it unseen)."""
    names = list(Calendar.objects.order_by("id").values_list("id", flat=True))
    missing = [name for name in current or () if name not in names]
    return [(name, name) for name in names] + [(name, f"{name} (no such calendar)") for name in missing]


class CalendarsField(forms.MultipleChoiceField):
    """Calendar ids; whether each exists is ``validation.validate_calendars``'s to say (with the
    API's words), not the choice list's."""

    def valid_value(self, value: str) -> bool:
        return True


class JobAdminForm(forms.ModelForm):
    """A job as the admin edits it; ``group`` and ``name`` default from the id as in the API."""

    handler = forms.CharField(max_length=200, widget=forms.Select)
    data = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "vLargeTextField"}),
        help_text='A JSON object handed to the handler, e.g. {"recipients": 3}.',
    )
    calendars = CalendarsField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="No fire falls in what these calendars exclude (read in the job's time zone).",
    )

    # The model's bounds (a positive integer field's form field would say "0 or more").
    timeout = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_INTERVAL,
        help_text="Stop a run's handler after this many seconds and record the run failed. "
        "Empty: no limit of the job's own.",
    )

    max_concurrent = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_INTERVAL,
        help_text="Under the overlap policies skip and buffer one: how many runs at once. Empty: one.",
    )

    class Meta:
        model = Job
        fields = validation.WRITABLE_FIELDS
        help_texts = {
            "id": "1-200 letters, digits and . _ - : (for example reports.daily).",
            "group": "Empty: the part of the id before the first dot, or 'default'.",
            "name": "Empty: the rest of the id.",
            "cron_expression": "A Quartz cron expression (seconds first), e.g. 0 15 10 ? * 2-6. "
            "Empty: an interval, or fire once (at the start time or at once).",
            "interval": "Instead of cron: fire every this many seconds (1 or more).",
            "interval_anchor": "The instant the interval counts from (a fire falls on it). "
            "Empty: the start time, or else the Unix epoch (every 900 s fires at :00, :15, ...).",
            "repeat_count": "Fires after the first (0: once). Empty: for ever.",
            "jitter": "Delay each fire by up to this many seconds (less than the gap to the next "
            "fire), a fixed amount per job and fire time. 0: on time.",
            "retry_max_attempts": "Attempts of a fire in all, the first included. 1: no retry.",
            "retry_initial_delay": "Seconds from a failed attempt's end to the first retry.",
            "retry_backoff_coefficient": "Each later delay is the one before times this (1 or more).",
            "retry_max_delay": "The longest delay, in seconds. Empty: no limit.",
            "retry_on_lost": "Retry lost executions too (a worker died), not only failed ones.",
            "timezone": "The IANA zone the cron expression is read in, e.g. Europe/Berlin.",
            "start_time": "No fire before this instant.",
            "end_time": "No fire after this instant.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("group", "name"):
            if name in self.fields:
                # Empty, not the model's "default": an empty group is derived from the id on save.
                self.fields[name].required = False
                self.fields[name].initial = ""
        if "handler" in self.fields:
            self.fields["handler"].widget.choices = handler_choices(self.instance.handler or None)
        if "calendars" in self.fields:
            self.fields["calendars"].choices = calendar_choices(self.instance.calendars)
        if "timezone" in self.fields and self.instance._state.adding:
            self.fields["timezone"].initial = scheduler_settings.DEFAULT_TIMEZONE

    def clean_handler(self) -> str:
        return validation.validate_handler(self.cleaned_data["handler"])

    def clean_cron_expression(self) -> str:
        return validation.validate_cron_expression(self.cleaned_data.get("cron_expression", ""))

    def clean_timezone(self) -> str:
        return validation.validate_timezone(self.cleaned_data.get("timezone", ""))

    def clean_timeout(self) -> int | None:
        return validation.validate_timeout(self.cleaned_data.get("timeout"))

    def clean_data(self) -> dict[str, Any]:
        value = self.cleaned_data.get("data")
        return validation.validate_data({} if value is None else value)

    def clean_calendars(self) -> list[str]:
        return validation.validate_calendars(list(self.cleaned_data.get("calendars") or ()))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in validation.WRITABLE_FIELDS}
        values["id"] = values.get("id") or self.instance.pk
        validation.validate_relations(values.get)
        if not self.errors:  # the search needs every field valid
            validation.validate_fire_left(values.get)
        validation.validate_overlap(values.get("overlap_policy") or "", values.get("max_concurrent"))
        return cleaned

    def job_fields(self) -> dict[str, Any]:
        """The validated writable fields, as ``services.save_job`` takes them (the id aside)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "id"}
