"""The app works wherever and however a project mounts it."""

from __future__ import annotations

import pytest

from django_scheduler_api.urls import mount


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls_include")
def test_include_under_another_prefix_links_within_it(api, make_job):
    make_job("a")
    body = api.get("/api/sched/jobs/a/").json()
    assert body["url"] == "http://testserver/api/sched/jobs/a"
    assert api.get("/api/sched/").json()["all"]["url"].startswith("http://testserver/api/sched/jobs?")
    assert api.get("/api/sched/jobs/a", REMOTE_ADDR="10.1.1.1").status_code == 403  # still guarded
    assert "/api/sched/jobs/{id}" in api.get("/api/sched/schema").json()["paths"]


def test_mount_needs_a_prefix_ending_with_a_slash():
    with pytest.raises(ValueError, match="must end with"):
        mount("scheduler")


def test_a_network_that_is_not_one_is_a_system_check_error(settings):
    from django_scheduler_api.checks import check_networks

    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "TRUSTED_PROXIES": ["10.0.0.0/8", "proxy.local"]}
    errors = check_networks()
    assert [e.id for e in errors] == ["django_scheduler_api.E001"]
    assert "proxy.local" in errors[0].msg
