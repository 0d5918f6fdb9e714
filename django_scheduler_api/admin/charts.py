"""Charts as inline SVG, drawn on the server: they need no script, no internet and no static build.

Colours come from CSS (``admin.css``): lines and text use the admin's own variables
(``--body-fg``, ``--hairline-color``...), so a chart follows the admin's light or dark theme, and
statuses use mid-tone colours that read on both. Every mark carries a ``<title>`` (the browser's
tooltip) and ``data-`` attributes with the figure it draws, which the browser tests compare with
the database.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from django_scheduler_api.monitoring import LagPoint, Minute, Run, Upcoming

# Bottom to top in a stack: what needs attention sits on the baseline, where it is easiest to see.
STATUSES = ("failed", "lost", "succeeded", "skipped", "cancelled", "running", "queued", "waiting")
TICK_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720)


@dataclass(frozen=True)
class Frame:
    """An SVG canvas and the plot area inside its margins."""

    width: int = 960
    height: int = 220
    left: int = 48
    right: int = 12
    top: int = 12
    bottom: int = 26

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom

    def svg(self, css_class: str, label: str, body: Iterable[str]) -> SafeString:
        return format_html(
            '<svg class="scheduler-chart {}" viewBox="0 0 {} {}" role="img" aria-label="{}" '
            'preserveAspectRatio="xMinYMin meet">{}</svg>',
            css_class,
            self.width,
            self.height,
            label,
            mark_safe("".join(body)),
        )


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (an axis maximum)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _number(value: float) -> str:
    return f"{value:g}" if value < 1000 else f"{value / 1000:g}k"


def _y_grid(frame: Frame, top_value: float, steps: int = 4) -> list[str]:
    """Horizontal grid lines with their values on the left axis."""
    parts = []
    for i in range(steps + 1):
        value = top_value * i / steps
        y = frame.top + frame.plot_height * (1 - i / steps)
        parts.append(_grid_line(frame, y, _number(value)))
    return parts


def _grid_line(frame: Frame, y: float, label: str) -> str:
    return format_html(
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
        frame.left,
        frame.width - frame.right,
        f"{y:.1f}",
        f"{y:.1f}",
        frame.left - 6,
        f"{y + 4:.1f}",
        label,
    )


def _time_axis(frame: Frame, start: datetime, end: datetime) -> list[str]:
    """Vertical ticks at round times (at most about eight), labelled HH:MM in UTC."""
    span = (end - start).total_seconds() / 60
    every = next((m for m in TICK_MINUTES if span / m <= 8), TICK_MINUTES[-1])
    tick = start.replace(second=0, microsecond=0)
    tick += timedelta(minutes=(-tick.minute - 60 * tick.hour) % every)
    parts = []
    while tick <= end:
        x = frame.left + frame.plot_width * (tick - start).total_seconds() / 60 / span
        parts.append(
            format_html(
                '<line class="tick" x1="{0}" x2="{0}" y1="{1}" y2="{2}"/>'
                '<text class="axis" x="{0}" y="{3}" text-anchor="middle">{4}</text>',
                f"{x:.1f}",
                frame.top,
                frame.top + frame.plot_height,
                frame.height - 8,
                tick.strftime("%H:%M"),
            )
        )
        tick += timedelta(minutes=every)
    return parts


def _legend(names: Sequence[tuple[str, str]]) -> SafeString:
    return format_html(
        '<ul class="scheduler-legend">{}</ul>',
        format_html_join("", '<li><span class="swatch {}"></span>{}</li>', names),
    )


# -- executions per minute --------------------------------------------------------------------------


def executions_per_minute(minutes: list[Minute], *, step: int = 1) -> SafeString:
    """Bars of ``step`` minutes each, stacked by status; the counts of each segment in its tooltip."""
    frame = Frame()
    bars = [_merge(minutes[i : i + step]) for i in range(0, len(minutes), step)]
    top = nice_ceiling(max((sum(counts.values()) for _, counts in bars), default=0))
    width = frame.plot_width / max(1, len(bars))
    parts = _y_grid(frame, top)
    for i, (start, counts) in enumerate(bars):
        x, base = frame.left + i * width, frame.top + frame.plot_height
        for status in STATUSES:
            count = counts.get(status, 0)
            if count:
                height = frame.plot_height * count / top
                base -= height
                parts.append(_bar(status, count, start, x + 0.5, base, max(0.6, width - 1), height))
    if minutes:
        parts += _time_axis(frame, minutes[0].start, minutes[-1].start + timedelta(minutes=1))
    total = sum(sum(counts.values()) for _, counts in bars)
    label = f"Executions per {step} minute(s), stacked by status: {total} in all"
    present = [status for status in STATUSES if any(counts.get(status) for _, counts in bars)]
    legend = _legend([(f"s-{status}", status) for status in present] or [("s-none", "no executions")])
    return format_html("{}{}", frame.svg("scheduler-per-minute", label, parts), legend)


def _bar(status: str, count: int, start: datetime, x: float, y: float, width: float, height: float) -> str:
    """One segment of a bar, as plain text: format_html's escaping of each of hundreds of segments
    costs more than the database's part of the page. Only ``status`` is not ours (it is escaped)."""
    status = html.escape(status)
    return (
        f'<rect class="bar s-{status}" x="{x:.2f}" y="{y:.2f}" width="{width:.2f}" height="{height:.2f}" '
        f'data-start="{start.isoformat()}" data-status="{status}" data-count="{count}">'
        f"<title>{start:%H:%M} UTC: {count} {status}</title></rect>"
    )


def _merge(minutes: list[Minute]) -> tuple[datetime, dict[str, int]]:
    counts: dict[str, int] = {}
    for minute in minutes:
        for status, count in minute.counts.items():
            counts[status] = counts.get(status, 0) + count
    return minutes[0].start, counts


# -- fire lag over time ---------------------------------------------------------------------------


def _lag_label(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


def fire_lag(points: list[LagPoint], *, step: int) -> SafeString:
    """p50 and p99 lines on a logarithmic axis (lags span milliseconds to seconds)."""
    frame = Frame()
    values = [v for p in points for v in (p.p50, p.p99) if v]
    low, high = 0.001, nice_ceiling(max([0.01, *values]))
    decades = math.log10(high / low)

    def y(value: float) -> float:
        clamped = min(max(value, low), high)
        return frame.top + frame.plot_height * (1 - math.log10(clamped / low) / decades)

    parts = []
    mark = low
    while mark <= high * 1.0001:
        parts.append(_grid_line(frame, y(mark), _lag_label(mark)))
        mark *= 10
    if points:
        end = points[-1].start + timedelta(minutes=step)
        parts += _time_axis(frame, points[0].start, end)
        span = (end - points[0].start).total_seconds()
        for name in ("p50", "p99"):
            parts += _lag_series(frame, points, name, y, span, step)
    fired = sum(p.count for p in points)
    label = f"Fire lag p50 and p99 per {step} minutes over {fired} scheduled fires"
    legend = _legend([("s-p50", "p50"), ("s-p99", "p99")])
    return format_html("{}{}", frame.svg("scheduler-lag", label, parts), legend)


def _lag_series(frame: Frame, points: list[LagPoint], name: str, y, span: float, step: int) -> list[str]:
    """One quantile's line (broken where a step had no fire) and a dot per step."""
    parts, run = [], []
    for point in points:
        value = getattr(point, name)
        middle = point.start + timedelta(minutes=step / 2)
        x = frame.left + frame.plot_width * (middle - points[0].start).total_seconds() / span
        if value is None:
            parts.append(_polyline(name, run))
            run = []
            continue
        run.append((x, y(value)))
        parts.append(
            format_html(
                '<circle class="dot s-{}" cx="{}" cy="{}" r="2.5" data-start="{}" data-quantile="{}" '
                'data-seconds="{}"><title>{} UTC, {} fires: {} {}</title></circle>',
                name,
                f"{x:.1f}",
                f"{y(value):.1f}",
                point.start.isoformat(),
                name,
                f"{value:.6f}",
                point.start.strftime("%H:%M"),
                point.count,
                name,
                _lag_label(round(value, 4)),
            )
        )
    parts.append(_polyline(name, run))
    return parts


def _polyline(name: str, run: list[tuple[float, float]]) -> str:
    if len(run) < 2:
        return ""
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
    return format_html('<polyline class="line s-{}" points="{}"/>', name, points)


# -- fires of the next hours ----------------------------------------------------------------------


def upcoming_fires(rows: list[Upcoming], start: datetime, end: datetime) -> SafeString:
    """One lane per job with a tick per fire in ``[start, end]``; the fires of a job that fires more
    often than the cap (every second, say) are drawn as a band."""
    lane, label_width = 22, 200
    frame = Frame(height=len(rows) * lane + 34, left=label_width, top=8)
    span = (end - start).total_seconds()
    parts = _time_axis(frame, start, end)
    for i, (job_id, fires, capped) in enumerate((r.job_id, r.fires, r.capped) for r in rows):
        y = frame.top + i * lane
        url = reverse("admin:django_scheduler_api_job_change", args=[quote(job_id)])
        parts.append(
            format_html(
                '<a href="{}"><text class="lane-label" x="{}" y="{}" text-anchor="end">{}</text></a>'
                '<line class="lane" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                url,
                label_width - 8,
                y + lane / 2 + 4,
                job_id,
                frame.left,
                frame.width - frame.right,
                y + lane / 2,
                y + lane / 2,
            )
        )
        xs = [frame.left + frame.plot_width * (f - start).total_seconds() / span for f in fires]
        if capped and xs:  # it fires on past the fires counted: the band runs to the end
            parts.append(
                format_html(
                    '<rect class="band" x="{}" y="{}" width="{}" height="{}"><title>{}: more than {} '
                    "fires, the first at {} UTC</title></rect>",
                    f"{xs[0]:.1f}",
                    y + 5,
                    f"{max(2.0, frame.width - frame.right - xs[0]):.1f}",
                    lane - 10,
                    job_id,
                    len(fires),
                    fires[0].strftime("%H:%M:%S"),
                )
            )
        parts.append(
            format_html(
                '<g class="fires" data-job="{}" data-count="{}" data-capped="{}">{}</g>',
                job_id,
                len(fires),
                "true" if capped else "false",
                format_html_join(
                    "",
                    '<line class="fire" x1="{0}" x2="{0}" y1="{1}" y2="{2}"><title>{3}</title></line>',
                    (
                        (f"{x:.1f}", y + 4, y + lane - 4, f"{job_id} {fire:%Y-%m-%d %H:%M:%S} UTC")
                        for x, fire in ([] if capped else zip(xs, fires, strict=True))
                    ),
                ),
            )
        )
    label = f"Fires of the next {span / 3600:g} hours of {len(rows)} jobs"
    return frame.svg("scheduler-upcoming", label, parts)


# -- a job's durations ----------------------------------------------------------------------------


def durations(runs: list[Run]) -> SafeString:
    """A small bar per execution (its duration, coloured by status), each linking to it."""
    frame = Frame(width=600, height=120, left=56, bottom=8)
    timed = [run.duration_ms or 0 for run in runs]
    top = nice_ceiling(max(timed, default=0))
    width = frame.plot_width / max(1, len(runs))
    parts = [
        _grid_line(frame, frame.top, f"{_number(top)} ms"),
        _grid_line(frame, frame.top + frame.plot_height, "0"),
    ]
    for i, run in enumerate(runs):
        height = max(1.0, frame.plot_height * (run.duration_ms or 0) / top)
        url = reverse("admin:django_scheduler_api_execution_change", args=[run.id])
        ran = "not finished" if run.duration_ms is None else f"{run.duration_ms} ms"
        parts.append(
            format_html(
                '<a href="{}"><rect class="bar s-{}" x="{}" y="{}" width="{}" height="{}" data-ms="{}">'
                "<title>{} UTC, {}: {}</title></rect></a>",
                url,
                run.status,
                f"{frame.left + i * width + 0.5:.2f}",
                f"{frame.top + frame.plot_height - height:.2f}",
                f"{max(1.0, width - 1.5):.2f}",
                f"{height:.2f}",
                "" if run.duration_ms is None else run.duration_ms,
                run.scheduled_fire_time.strftime("%Y-%m-%d %H:%M:%S"),
                run.status,
                ran,
            )
        )
    label = f"Durations of the last {len(runs)} executions"
    return frame.svg("scheduler-durations", label, parts)


# -- the grid of recent runs ----------------------------------------------------------------------


def run_grid(grid: list[tuple[str, list[Run]]]) -> SafeString:
    """A row per job, a cell per execution coloured by its status and linking to it.

    Thousands of cells: the links are built from one reversed URL, not one ``reverse`` each.
    """
    execution_url = _url_pattern("admin:django_scheduler_api_execution_change")
    job_url = _url_pattern("admin:django_scheduler_api_job_change")
    rows = []
    for job_id, runs in grid:
        cells = "".join(_cell(run, execution_url) for run in runs) or (
            '<span class="scheduler-quiet">no runs in this range</span>'
        )
        rows.append(
            format_html(
                '<tr data-job="{}"><th><a href="{}">{}</a></th><td>{}</td></tr>',
                job_id,
                job_url.replace(PLACEHOLDER, escape(quote(job_id))),
                job_id,
                mark_safe(cells),
            )
        )
    return format_html('<table class="scheduler-grid"><tbody>{}</tbody></table>', mark_safe("".join(rows)))


PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def _url_pattern(name: str) -> str:
    return reverse(name, args=[PLACEHOLDER])


def _cell(run: Run, url: str) -> str:
    """One cell as plain text: format_html's lazy escaping costs more than the rest of the page."""
    took = "" if run.duration_ms is None else f", {run.duration_ms} ms"
    status = html.escape(run.status)
    title = html.escape(f"{run.scheduled_fire_time:%Y-%m-%d %H:%M:%S} UTC: {run.status}{took}")
    href = url.replace(PLACEHOLDER, str(run.id))
    return f'<a class="scheduler-cell s-{status}" href="{href}" data-status="{status}" title="{title}"></a>'
