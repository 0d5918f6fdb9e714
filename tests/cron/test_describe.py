"""``describe``: cron-descriptor set up for Quartz's day numbering (1 = Sunday)."""

from __future__ import annotations

import pytest

from django_scheduler_api.cron import CronError, describe


@pytest.mark.parametrize(
    ("expression", "sentence"),
    [
        ("0 15 10 ? * 2-6", "At 10:15 AM, Monday through Friday"),
        ("0 15 10 ? * MON-FRI", "At 10:15 AM, Monday through Friday"),
        ("0 0 12 ? * 1", "At 12:00 PM, only on Sunday"),
        ("0 0 12 ? * 7", "At 12:00 PM, only on Saturday"),
        ("0 0 12 ? * L", "At 12:00 PM, only on Saturday"),
        (
            "0 15 10 ? * 6L 2016-2020",
            "At 10:15 AM, on the last Friday of the month, 2016 through 2020",
        ),
        ("0 0 12 ? * 6#3", "At 12:00 PM, on the third Friday of the month"),
        ("0 15 10 L-2 * ?", "At 10:15 AM, 2 days before the last day of the month"),
        ("0 0 12 LW * ?", "At 12:00 PM, on the last weekday of the month"),
        ("* * * * * ?", "Every second"),
        ("0 */5 * * * ?", "Every 5 minutes"),
    ],
)
def test_sentences(expression: str, sentence: str) -> None:
    assert describe(expression) == sentence


def test_six_fields_with_question_mark_keep_seconds_first() -> None:
    """cron-descriptor alone would read ``0 0 12 ? * 2`` as minutes-first with a year."""
    assert describe("0 0 12 ? * 2") == "At 12:00 PM, only on Monday"


def test_invalid_expression_raises_cron_error() -> None:
    with pytest.raises(CronError):
        describe("0 0 12 * * *")
