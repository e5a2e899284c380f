"""The read model: every read of the projection tables that the API, the workers and the
commands make, as typed functions of a ``Query`` (a reader's ``query``) and the database.

``cases``: the case page, the map, the filters' values, reports and signals of cases;
``worklist``: the console's queues and search; ``requests``: Open311 service requests;
``events``: where an event went (log or dead letters) and which escalations are logged;
``tasks``: the live tasks past a deadline (the SLA watchdog). The figures — metrics,
durations, backlog — are ``projections/metrics``. Callers build no SQL of their own
(docs/DESIGN.md §2); every statement runs on chDB and ClickHouse 18.16 alike, and on a
cluster's Distributed tables.
"""
