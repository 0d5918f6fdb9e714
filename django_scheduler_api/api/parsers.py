"""The API's only parser: JSON by the rules every supported database stores alike (``jsonvalues``).

DRF's ``JSONParser`` decodes by the charset the client names (``charset=utf-7`` included) and keeps
what Python's ``json`` reads: duplicate keys, ``1e400`` as infinity, lone surrogates, ``\\u0000``, and
a RecursionError for deep nesting, each of which reached the database as a 500 or a row that broke
later reads. This parser refuses them all with a 400 (415 for a charset other than UTF-8) before a
view sees the body, so job bodies and trigger bodies are held to the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.http.multipartparser import parse_header_parameters
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser

from django_scheduler_api import jsonvalues


class StrictJSONParser(JSONParser):
    """``application/json`` in UTF-8, parsed by ``jsonvalues.loads``."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        _, params = parse_header_parameters(media_type or self.media_type)
        charset = params.get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                media_type, detail=f"Send JSON in UTF-8 (RFC 8259), not charset={params['charset']!r}."
            )
        try:
            return jsonvalues.loads(stream.read())
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
