"""One list of a job's writable fields (``validation.WRITABLE_FIELDS``): every front end offers it."""

from __future__ import annotations

from django_scheduler_api import declared, services, validation
from django_scheduler_api.admin.forms import JobAdminForm
from django_scheduler_api.api.serializers import JobSerializer
from django_scheduler_api.cli.editing import FIELDS as CLI_OPTIONS


def test_the_api_body_the_admin_form_and_declarations_take_the_same_fields():
    writable = set(validation.WRITABLE_FIELDS)
    api = {name for name, field in JobSerializer().fields.items() if not field.read_only}
    assert api == writable
    assert set(JobAdminForm.base_fields) == writable
    assert set(declared.DeclaredJobSerializer().fields) == writable
    assert {*CLI_OPTIONS, "id"} == writable  # scheduler create/update: one option each, the id positional


def test_every_timing_field_is_writable_and_has_a_default():
    assert set(services.TIMING_FIELDS) <= set(validation.WRITABLE_FIELDS)
    assert set(services.TIMING_FIELDS) <= set(validation.job_defaults("a.b"))
