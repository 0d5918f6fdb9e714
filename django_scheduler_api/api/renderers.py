"""The browsable API's renderer: a JSON form that works as it stands.

DRF fills the raw-data form from an empty serializer, so the job form starts as ``"handler": ""`` and
``"state": null``, which the API refuses. A view may offer ``raw_data_example(method)``; its answer,
a dict, becomes the form's content.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import BrowsableAPIRenderer


class SchedulerBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF's browsable API, with the raw JSON form pre-filled by the view when it can."""

    def get_raw_data_form(self, data: Any, view: Any, method: str, request: Any) -> Any:
        form = super().get_raw_data_form(data, view, method, request)
        example = getattr(view, "raw_data_example", None)
        if form is None or example is None:
            return form
        body = example(method)
        if body is not None:
            form.fields["_content"].initial = json.dumps(body, indent=4)
        return form
