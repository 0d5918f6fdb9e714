"""The engine against the real Quartz 2.3.2 (``CronExpression.getTimeAfter`` with ``setTimeZone``).

Thousands of generated expressions (fixed seeds) over five zones, starting around
DST transitions, 20 fire times each: every answer must be Quartz's. Random token
mutations check that whatever Quartz refuses is refused. Needs Java and Debian's
``libquartz2-java``; skipped without them, failing instead when ``CI=true``.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime
from itertools import islice

import pytest

from django_scheduler_api.cron import CronError, CronExpression
from tests.cron import generate
from tests.cron.known_differences import explain
from tests.cron.quartz_oracle import Answer, QuartzOracle, Request

# Quartz's '*' year runs to (current year + 100); the engine stops at 2099 (docs/cron.rst).
END_OF_2099 = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()) - 14 * 3600


def ours(request: Request) -> tuple[int, ...]:
    """The engine's fire times for a request, as epoch seconds (raises CronError)."""
    start = datetime.fromtimestamp(request.start, UTC)
    times = CronExpression(request.expression).fire_times(start, request.zone)
    return tuple(int(t.timestamp()) for t in islice(times, request.count))


def before_2100(times: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(t for t in times if t < END_OF_2099)


def show(times: tuple[int, ...]) -> list[str]:
    return [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ") for t in times]


def disagreements(requests: list[Request], answers: list[Answer]) -> list[str]:
    """Readable descriptions of every request where the engine and Quartz differ."""
    found = []
    for request, answer in zip(requests, answers, strict=True):
        try:
            mine = before_2100(ours(request))
        except CronError as error:
            found.append(f"{request}: engine refused ({error}), Quartz said {answer.kind}")
            continue
        if answer.kind != "OK" or mine != before_2100(answer.times):
            found.append(f"{request}:\n  quartz {show(answer.times)}\n  engine {show(mine)}")
    return found


def test_generated_expressions_agree_with_quartz(quartz: QuartzOracle) -> None:
    """5,000 expressions covering every special character, 20 fire times each, five zones."""
    rng = random.Random(20260101)
    requests = []
    for index in range(5000):
        zone = generate.ZONES[index % len(generate.ZONES)]
        requests.append(Request(generate.expression(rng), generate.start_instant(rng, zone), zone))
    answers = quartz.ask(requests)
    assert Counter(a.kind for a in answers) == {"OK": len(requests)}, "the generator made invalid text"
    found = disagreements(requests, answers)
    assert not found, f"{len(found)} of {len(requests)} differ from Quartz:\n" + "\n".join(found[:10])


def _night_requests(seed: int, zones: tuple[str, ...], count: int) -> list[Request]:
    """``count`` night-time schedules, started just before a DST change, round-robin over ``zones``."""
    rng = random.Random(seed)
    requests = []
    for index in range(count):
        zone = zones[index % len(zones)]
        requests.append(Request(generate.dst_expression(rng), generate.dst_start_instant(rng, zone), zone))
    return requests


def test_dst_transitions_agree_with_quartz(quartz: QuartzOracle) -> None:
    """2,000 night-time schedules started just before the DST changes of three zones."""
    requests = _night_requests(20261025, ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe"), 2000)
    found = disagreements(requests, quartz.ask(requests))
    assert not found, f"{len(found)} of {len(requests)} differ from Quartz:\n" + "\n".join(found[:10])


def test_unusual_clock_changes_agree_with_quartz(quartz: QuartzOracle) -> None:
    """Beyond the five zones: a two-hour gap (Antarctica/Troll), changes at midnight
    (America/Santiago, America/Havana) and a 45-minute offset (Pacific/Chatham)."""
    zones = ("Antarctica/Troll", "America/Santiago", "America/Havana", "Pacific/Chatham")
    requests = _night_requests(20240331, zones, 800)
    found = disagreements(requests, quartz.ask(requests))
    assert not found, f"{len(found)} of {len(requests)} differ from Quartz:\n" + "\n".join(found[:10])


def test_mutations_quartz_refuses_are_refused(quartz: QuartzOracle) -> None:
    """Random edits of valid expressions: Quartz's refusals are refusals here too.

    Text both accept must give the same fire times; text only Quartz accepts must
    fall under a difference documented in docs/cron.rst.
    """
    rng = random.Random(4242)
    requests = []
    for index in range(4000):
        text = generate.expression(rng)
        for _ in range(rng.choice((1, 1, 2))):
            text = generate.mutate(rng, text)
        zone = generate.ZONES[index % len(generate.ZONES)]
        requests.append(Request(text, generate.start_instant(rng, zone), zone, count=5))
    outcomes: Counter[str] = Counter()
    problems = []
    for request, answer in zip(requests, quartz.ask(requests), strict=True):
        outcome, problem = judge(request, answer)
        outcomes[outcome] += 1
        if problem:
            problems.append(problem)
    assert not problems, f"{len(problems)} problems; outcomes {dict(outcomes)}:\n" + "\n".join(problems[:10])
    assert outcomes["both refuse"] > 1000
    assert outcomes["both accept"] > 200


def judge(request: Request, answer: Answer) -> tuple[str, str | None]:
    """Classify one mutation; the second element describes a problem, if there is one."""
    try:
        mine = ours(request)
    except CronError as error:
        if answer.kind != "OK":
            return "both refuse", None
        label = explain(error)
        if label is None:
            return (
                "undocumented",
                f"{request.expression!r}: Quartz accepts, engine refuses: {error}",
            )
        return f"documented: {label}", None
    if answer.kind == "HANG":
        return "Quartz hangs", None
    if answer.kind != "OK":
        return (
            "Quartz only refuses",
            f"{request.expression!r}: Quartz {answer.kind} {answer.message}",
        )
    if before_2100(mine) != before_2100(answer.times):
        return "disagree", f"{request}: quartz {show(answer.times)} engine {show(mine)}"
    return "both accept", None


NAMED_CASES = [
    "0 15 10 ? * 6L 2016-2020",
    "0 0 12 1/5 * ?",
    "0 10,44 14 ? 3 4",
    "0 15 10 L-2 * ?",
    "* * * * * ?",
    "0 30 2 * * ?",
    "0 */30 * * * ?",
    "0 0 0 29 2 ?",
    "0 0 12 ? 2 2#5",
    "0 0 12 ? * 1#5",
    "0 0 12 LW * ?",
    "0 0 12 1W * ?",
    "0 0 12 31 * ?",
    "0 0 12 L-30 * ?",
    "0 0 0 30 2 ?",
    "0 0 22-2/3 ? * FRI-MON",
    "0 0 0 ? * L",
    "0 0 0 * * ? 2020-2024/2",
]


@pytest.mark.parametrize("expression", NAMED_CASES)
@pytest.mark.parametrize("zone", generate.ZONES)
def test_named_cases_agree_with_quartz(quartz: QuartzOracle, expression: str, zone: str) -> None:
    starts = (datetime(2016, 1, 1, tzinfo=UTC), datetime(2026, 3, 27, tzinfo=UTC))
    requests = [Request(expression, int(s.timestamp()), zone) for s in starts]
    requests += [Request(expression, t - 3600 * 7, zone) for t in generate.transitions(zone)[:6]]
    found = disagreements(requests, quartz.ask(requests))
    assert not found, "\n".join(found)


def test_generator_covers_every_feature() -> None:
    """The 5,000 expressions use every special character and the month-end edges."""
    rng = random.Random(20260101)
    texts = [generate.expression(rng) for _ in range(5000)]
    fields = [text.split(" ") for text in texts]
    dom = [f[3] for f in fields]
    dow = [f[5] for f in fields]
    features = {
        "L": "L" in dom,
        "L-n": any(d.startswith("L-") and not d.endswith("W") for d in dom),
        "LW": "LW" in dom,
        "L-nW": any(d.startswith("L-") and d.endswith("W") for d in dom),
        "nW": any(d[:-1].isdigit() and d.endswith("W") for d in dom),
        "29W-31W": any(d in ("29W", "30W", "31W") for d in dom),
        "29-31": any(any(n in d.split(",") for n in ("29", "30", "31")) for d in dom),
        "dow L": "L" in dow,
        "nL": any(d.endswith("L") and d != "L" for d in dow),
        "#5": any(d.endswith("#5") for d in dow),
        "#": any("#" in d for d in dow),
        "?": "?" in dom and "?" in dow,
        "names": any(d[:3].upper() in generate.DAYS for d in dow),
        "lower-case names": any(f[4][:3] in [m.lower() for m in generate.MONTHS] for f in fields),
        "wrapping range": any(int(a) > int(b) for t in texts for a, b in re.findall(r"(\d+)-(\d+)", t)),
        "step on range": any("-" in f[1] and "/" in f[1] for f in fields),
        "year range": any(len(f) == 7 and "-" in f[6] for f in fields),
        "year step": any(len(f) == 7 and "/" in f[6] for f in fields),
        "six fields": any(len(f) == 6 for f in fields),
        "lists": any("," in f[2] for f in fields),
        "*/n": any(f[0].startswith("*/") for f in fields),
    }
    assert [name for name, present in features.items() if not present] == []
