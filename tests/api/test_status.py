"""The status, handlers and preview endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_scheduler_api.models import SchedulerNode
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db


def add_node(name: str, seconds_ago: float) -> None:
    now = timezone.now()
    SchedulerNode.objects.create(
        name=name, hostname="host", pid=1, started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(seconds=seconds_ago),
    )  # fmt: skip


def test_status_counts_each_state_narrowed_to_it(api, make_job):
    """Issue 16: each state's count filters on the state (so the due-jobs index answers it) rather
    than grouping every job; a state without jobs counts 0."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_job("a", state="paused")
    with CaptureQueriesContext(connection) as captured:
        body = api.get(f"{BASE}/").json()
    counts = [q["sql"].upper() for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 2
    assert not any("GROUP BY" in sql for sql in counts)
    assert all("STATE" in sql[sql.index(" WHERE ") :] for sql in counts)
    assert (body["all"]["count"], body["planned"]["count"], body["paused"]["count"]) == (1, 0, 1)


@pytest.mark.parametrize("path", ["", "/"])
def test_status_counts_jobs_and_links_the_lists(api, make_job, path):
    make_job("a")
    make_job("b", cron_expression="0 0 12 * * ?")
    make_job("c", state="paused")
    body = api.get(f"{BASE}{path}").json()
    assert body["is_started"] is False and body["nodes"] == []
    assert body["all"] == {"count": 3, "url": "http://testserver/scheduler/jobs?skip=0&take=10"}
    assert body["planned"] == {
        "count": 2,
        "url": "http://testserver/scheduler/jobs?state=planned&skip=0&take=10",
    }
    assert body["paused"] == {
        "count": 1,
        "url": "http://testserver/scheduler/jobs?state=paused&skip=0&take=10",
    }
    assert body["next_fire_time"] is not None


def test_is_started_follows_heartbeats_within_the_node_timeout(api, settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "NODE_TIMEOUT": 30}
    add_node("host:1", seconds_ago=5)
    add_node("host:2", seconds_ago=120)
    body = api.get(f"{BASE}/").json()
    assert body["is_started"] is True
    assert [n["name"] for n in body["nodes"]] == ["host:1"]
    assert set(body["nodes"][0]) == {"name", "hostname", "pid", "started_at", "last_seen"}
    SchedulerNode.objects.filter(name="host:1").update(last_seen=timezone.now() - timedelta(seconds=31))
    assert api.get(f"{BASE}/").json()["is_started"] is False


def test_handlers_are_listed_with_the_first_docstring_line(api):
    body = api.get(f"{BASE}/handlers").json()
    echo = next(h for h in body if h["name"] == "tests.echo")
    assert echo["description"] == "Return the data and the fire times it was given."
    assert echo["jobs_url"] == "http://testserver/scheduler/jobs?handler=tests.echo&skip=0&take=10"
    assert [h["name"] for h in body] == sorted(h["name"] for h in body)


def test_preview_lists_the_next_fire_times_strictly_after(api):
    query = {"cron_expression": "0 0 12 1/5 * ?", "after": "2026-01-01T12:00:00Z", "count": 3}
    body = api.get(f"{BASE}/preview", query).json()
    assert body == {
        "cron_expression": "0 0 12 1/5 * ?",
        "description": body["description"],
        "timezone": "UTC",
        "fire_times": ["2026-01-06T12:00:00Z", "2026-01-11T12:00:00Z", "2026-01-16T12:00:00Z"],
        "interval": None,
        "interval_anchor": None,
        "repeat_count": None,
        "calendars": [],
        "jitter": 0,
        "job": "",
    }
    assert body["description"]


def test_preview_reads_the_expression_in_the_zone(api):
    query = {"cron_expression": "0 30 2 * * ?", "timezone": "Europe/Berlin", "after": "2026-03-28T12:00:00Z"}
    times = api.get(f"{BASE}/preview", {**query, "count": 2}).json()["fire_times"]
    assert times == ["2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"]  # 2:30 does not exist on the 29th


def test_preview_of_a_schedule_that_ended_is_empty(api):
    query = {"cron_expression": "0 0 0 1 1 ? 2020", "after": "2026-01-01T00:00:00Z"}
    assert api.get(f"{BASE}/preview", query).json()["fire_times"] == []


def test_preview_defaults_to_ten_times_after_now(api):
    times = api.get(f"{BASE}/preview", {"cron_expression": "* * * * * ?"}).json()["fire_times"]
    assert len(times) == 10


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "cron_expression"),
        ({"cron_expression": ""}, "cron_expression"),
        ({"cron_expression": "0 0 12 * * *"}, "cron_expression"),
        ({"cron_expression": "* * * *"}, "cron_expression"),
        ({"cron_expression": "* * * * * ?", "timezone": "Nowhere"}, "timezone"),
        ({"cron_expression": "* * * * * ?", "after": "soon"}, "after"),
        ({"cron_expression": "* * * * * ?", "count": "0"}, "count"),
        ({"cron_expression": "* * * * * ?", "count": "101"}, "count"),
    ],
)
def test_preview_refuses_bad_queries(api, query, field):
    response = api.get(f"{BASE}/preview", query)
    assert response.status_code == 400
    assert field in response.json()


ROOT_LINKS = {
    "jobs": "http://testserver/scheduler/jobs",
    "executions": "http://testserver/scheduler/executions",
    "handlers": "http://testserver/scheduler/handlers",
    "preview": "http://testserver/scheduler/preview?cron_expression=0+15+10+%3F+%2A+MON-FRI",
    "schema": "http://testserver/scheduler/schema",
    "docs": "http://testserver/scheduler/docs",
}


def test_the_root_links_the_other_endpoints_and_every_link_answers(api, make_job):
    make_job("a")
    body = api.get(f"{BASE}/").json()
    assert list(body)[:6] == ["is_started", "all", "planned", "paused", "next_fire_time", "nodes"]
    assert {key: body[key] for key in ROOT_LINKS} == ROOT_LINKS
    for url in ROOT_LINKS.values():
        assert api.get(url).status_code == 200, url


def test_the_browsable_root_shows_the_links(api):
    page = api.get(f"{BASE}/", HTTP_ACCEPT="text/html").content.decode()
    for url in ROOT_LINKS.values():
        assert f'href="{url.replace("&", "&amp;")}"' in page, url
