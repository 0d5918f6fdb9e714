"""The chaos suite: faults injected into a real deployment, fires counted end to end.

``make chaos`` (``python -m bench.chaos``, ``--quick`` for short versions) starts a PostgreSQL
cluster and a Redis server of its own on spare ports, two ``run_scheduler`` processes (each in a
network namespace of its own where the machine allows it) and a ``qcluster`` with 4 workers,
all on ``bench.chaos.settings``. Each scenario seeds 50 jobs firing every second, injects one
fault, lets the backlog drain and counts three things: the fires the schedules name, the
``Execution`` rows, and the real handler runs (each handler appends a line to a file with
``O_APPEND``). A supervisor restarts any process that exits, as systemd's ``Restart=always``
would, and counts the exits the harness did not cause.

Every fault is verified where it lands (a killed process is gone, a stopped server refuses
connections, a scheduler stopped inside its claim holds its row locks: ``barrier.py`` stops it
there deterministically); a scenario whose fault did not land fails.
"""
