"""``GET /scheduler/metrics``: the scheduler's figures for Prometheus (docs/observability.rst).

The figures come from ``monitoring.snapshot`` (the database, so one scrape of any web process tells
about every scheduler and worker on every host); this module only names them. A custom collector
on a registry of its own exports them through ``prometheus_client``, in the text format or, when the
scraper asks for it, in OpenMetrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpResponse
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_scheduler_api import monitoring
from django_scheduler_api.api.schema import document
from django_scheduler_api.api.views import SchedulerAPIView

PREFIX = "scheduler"


class SchedulerCollector(Collector):
    """The metrics of one ``monitoring.Snapshot``, taken when Prometheus collects."""

    def __init__(self, snapshot: Callable[[], monitoring.Snapshot] = monitoring.snapshot) -> None:
        self.snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # the names are known only by collecting, which reads the database

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        yield _labelled(
            CounterMetricFamily,
            "fires",
            "Fires recorded, by trigger (misfire: late fires; retry: attempts after a failure).",
            "trigger",
            snap.fires,
        )
        yield _labelled(
            CounterMetricFamily,
            "executions_finished",
            "Executions that finished, by status (skipped: overlap policy skip, or a misfire dropped late).",
            "status",
            snap.finished,
        )
        yield _labelled(
            CounterMetricFamily,
            "misfires",
            "Fires found later than MISFIRE_THRESHOLD, by outcome (fired: run once late; dropped: not run).",
            "outcome",
            snap.misfires,
        )
        yield _labelled(
            GaugeMetricFamily,
            "executions_pending",
            "Executions queued, running or waiting (overlap policy buffer_one) now.",
            "status",
            snap.pending,
        )
        yield _labelled(GaugeMetricFamily, "jobs", "Jobs, by state.", "state", snap.jobs)
        yield GaugeMetricFamily(
            f"{PREFIX}_live_nodes", "Scheduler processes whose heartbeat is recent.", value=snap.live_nodes
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_executions",
            "Executions recorded but not yet handed to django-q2.",
            value=snap.outbox,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_oldest_running_execution_age_seconds",
            "Seconds since the longest-running execution started (0: none runs).",
            value=snap.oldest_running_age,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_metrics_window_seconds",
            "The recent window of the histograms, in seconds of scheduled fire times.",
            value=snap.window,
        )
        lag = GaugeHistogramMetricFamily(
            f"{PREFIX}_fire_lag_seconds",
            "Handler start minus scheduled fire time, of the scheduled fires of the recent window.",
        )
        lag.add_metric([], _buckets(snap.fire_lag), snap.fire_lag.sum)
        yield lag
        durations = GaugeHistogramMetricFamily(
            f"{PREFIX}_handler_duration_seconds",
            "Run time of the executions of the recent window that finished, by handler.",
            labels=["handler"],
        )
        for handler, histogram in sorted(snap.durations.items()):
            durations.add_metric([handler], _buckets(histogram), histogram.sum)
        yield durations


def _labelled(kind: type, name: str, documentation: str, label: str, values: dict[str, int]) -> Any:
    family = kind(f"{PREFIX}_{name}", documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _buckets(histogram: monitoring.Histogram) -> list[tuple[str, float]]:
    return [
        ("+Inf" if math.isinf(bound) else floatToGoString(bound), count) for bound, count in histogram.buckets
    ]


registry = CollectorRegistry(auto_describe=False)
registry.register(SchedulerCollector())


class ExpositionRenderer(BaseRenderer):
    """Lets DRF's content negotiation accept what Prometheus asks for; the view writes the body."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return str(data).encode()


class OpenMetricsRenderer(ExpositionRenderer):
    media_type = "application/openmetrics-text"


class MetricsView(SchedulerAPIView, APIView):
    """The metrics endpoint; see the module docstring."""

    renderer_classes = [ExpositionRenderer, OpenMetricsRenderer]
    json_errors_only = True

    def handle_exception(self, exc: Exception) -> Response:
        """Errors (a 406 for an ``Accept`` it cannot meet) are JSON, as everywhere in the API."""
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @document(
        summary="Metrics for Prometheus",
        responses={
            (200, "text/plain"): {"type": "string", "description": "Prometheus text exposition format 0.0.4"},
            (200, "application/openmetrics-text"): {"type": "string", "description": "OpenMetrics 1.0"},
        },
    )
    def get(self, request: Request) -> HttpResponse:
        """The scheduler's metrics in the Prometheus text format (OpenMetrics if the `Accept` header asks
        for it). The figures are read from the database, so every scheduler and worker is counted."""
        encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
        response = HttpResponse(encoder(registry), content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response
