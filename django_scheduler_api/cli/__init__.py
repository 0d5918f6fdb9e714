"""The ``manage.py scheduler`` command's logic, kept out of the command module.

Each subcommand (``status``, ``list``, ``show``, ``pause``, ``resume``, ``trigger``, ``delete``,
``preview``, ``calendars``, ``backfill``, ``create``, ``update``) mirrors one REST endpoint: it
validates with the API's rules, changes jobs through ``services`` and, with ``--json``, prints what
the API would answer for the same objects. Errors are ``CommandError`` with the API's message, so
scripts see a non-zero exit and the same words.
"""
