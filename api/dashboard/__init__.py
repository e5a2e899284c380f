"""The dashboard (docs/DASHBOARD.md): pages for analysts and managers, and the JSON figures
they draw, from the same queries as ``civicloop metrics``, ``durations`` and ``backlog``.

``create_dashboard_router(source, require_reader)`` (``router.py``) is what civicloop's HTTP
server mounts; ``figures.py`` and ``charts.py`` are shared with the monthly report.
"""
