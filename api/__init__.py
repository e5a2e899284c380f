"""The HTTP front door (``civicloop api``): Open311 GeoReport v2 for citizen apps, a handling
API for department and supervisor apps, API keys with roles, and the dashboard
(``api/dashboard/``) for analysts and managers.

It writes only by producing validated events through the SDK and reads only the projections
(docs/API.md); it never writes to ClickHouse, so several API processes may run side by side.
"""
