"""The HTTP side of civicloop (``civicloop.api``): read-only views for people and apps.

Issue 9 brings the server itself (``civicloop api``, keys with roles); the dashboard
(``api/dashboard/``) is a router that mounts on it.
"""
