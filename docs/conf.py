"""Sphinx configuration of the documentation site (``sphinx-build -W -n docs docs/_build``)."""

import re
from pathlib import Path

# The version is read from the package's source rather than imported: building the docs needs
# neither Django nor the package's dependencies.
_INIT = Path(__file__).resolve().parent.parent / "django_scheduler_api" / "__init__.py"
release = re.search(r'^__version__ = "([^"]+)"', _INIT.read_text(), re.MULTILINE).group(1)
version = ".".join(release.split(".")[:2])

project = "django-scheduler-api"
author = "the django-scheduler-api authors"
copyright = "2026, the django-scheduler-api authors"

extensions = ["sphinxcontrib.httpdomain"]

# Every cross-reference must resolve (-n), and an HTTP reference's examples are JSON.
nitpicky = True
highlight_language = "none"
exclude_patterns = ["_build"]

html_theme = "alabaster"
html_title = f"django-scheduler-api {release}"
html_theme_options = {"description": "Quartz-style cron jobs for Django on django-q2 workers"}
# The httpdomain index lists every endpoint under its path prefix.
http_index_shortname = "endpoints"
http_index_ignore_prefixes = []
