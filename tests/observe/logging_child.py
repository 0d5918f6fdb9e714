"""Run in a child process by test_handler_logs (``python -m tests.observe.logging_child MODE``):
a project's logging, the same records logged before and after handler-log capture is installed
in the process, and what the project's handlers wrote each time, as JSON on stdout.

A child, because installing the capture changes the root logger of the process for good.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys

LOGGERS = ("app", "app.sub", "chatty", "chatty.sub", "lib", "plain")
LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)


def log_everything(tag: str) -> None:
    for name in LOGGERS:
        for level in LEVELS:
            logging.getLogger(name).log(level, "%s %s %s", tag, name, logging.getLevelName(level))


def configured() -> dict[str, object]:
    """Handlers on the root (level left at Python's WARNING), on ``app`` (no level: it inherits the
    root's) and on ``chatty`` (a level of its own, INFO)."""
    streams = {name: io.StringIO() for name in ("root", "app", "chatty")}
    for name, stream in streams.items():
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        logging.getLogger("" if name == "root" else name).addHandler(handler)
    logging.getLogger("chatty").setLevel(logging.INFO)

    def written() -> dict[str, str]:
        texts = {
            name: stream.getvalue().replace("before", "TAG").replace("after", "TAG")
            for name, stream in streams.items()
        }
        for stream in streams.values():
            stream.seek(0)
            stream.truncate()
        return texts

    from django_scheduler_api.engine import handler_logs

    log_everything("before")
    before = written()
    handler_logs.install()
    log_everything("after")
    after = written()
    with handler_logs.capturing() as capture:
        logging.getLogger("app").info("captured from app")
        logging.getLogger("plain").debug("below the capture level")
    return {"before": before, "after": after, "captured": capture.text, "root": logging.getLogger().level}


def unconfigured() -> dict[str, object]:
    """No handler anywhere: Python prints WARNING and above to stderr (``logging.lastResort``)."""
    from django_scheduler_api.engine import handler_logs

    logging.root.handlers.clear()  # the test settings' console handler

    logging.getLogger("lib").warning("unhandled before")
    handler_logs.install()
    logging.getLogger("lib").warning("unhandled after")
    logging.getLogger("lib").info("info after")
    return {}


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    result = configured() if sys.argv[1] == "configured" else unconfigured()
    print(json.dumps(result))
