"""The REST API of docs/api.rst, built on Django REST framework.

One concept per module, as in DRF itself:

- ``views``: the viewsets and views, thin: they parse, call ``services`` and serialize;
- ``serializers`` and ``fields``: the JSON shapes, with the .NET spellings as aliases;
- ``filters`` and ``pagination``: the validated ``state``/``job``/``status`` filters and ``skip``/``take``;
- ``exceptions``: every error as JSON (``{"detail": ...}`` or field errors), never an HTML page;
- ``schema``: the OpenAPI 3 schema (drf-spectacular) and a Swagger UI served with local assets;
- ``links``: absolute URLs that respect wherever the project mounted the app;
- ``urls``: every path with and without a trailing slash, no redirects.
"""
