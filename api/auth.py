"""Who may do what: the role table, and the caller's key on a request (docs/API.md).

The key may come as ``X-API-Key``, ``Authorization: Bearer …``, or — as Open311 clients send
it — an ``api_key`` query or form field. It is never logged: the access log carries the key's
id, and request URLs are logged without their query string.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from civicloop.api.backend import backend
from civicloop.api.errors import forbidden, unauthenticated
from civicloop.api.keys import ApiKey, ApiKeyStore

#: the handling actions (docs/DESIGN.md §3), in lifecycle order
HANDLING = (
    "register",
    "void",
    "dispatch",
    "accept",
    "contact",
    "extend",
    "return",
    "dispose",
    "check",
    "close",
    "feedback",
    "reopen",
)
#: task actions: a department key may take them on its own department's tasks only
TASK_ACTIONS = frozenset({"accept", "contact", "extend", "return", "dispose"})
#: Open311 intake (``POST requests``) and every read (cases, metrics, backlog, Open311 GETs)
REPORT, READ = "report", "read"
#: the dashboard's figures (docs/DASHBOARD.md): analysts and above, and each department for its
#: own department (the dashboard scoped to it); not intake apps
DASHBOARD = "dashboard"

PERMITTED: dict[str, frozenset[str]] = {
    "intake": frozenset({REPORT, READ}),
    "department": TASK_ACTIONS | {READ, DASHBOARD},
    "dispatcher": frozenset({"register", "void", "dispatch", "close", "reopen", READ, DASHBOARD}),
    "supervisor": frozenset({*HANDLING, REPORT, READ, DASHBOARD}),
    "analyst": frozenset({READ, DASHBOARD}),
}


def presented_token(request: Request, form: Mapping[str, object] | None = None) -> str | None:
    """The key the caller presented, wherever they put it; None when there is none."""
    header = request.headers.get("x-api-key")
    if header:
        return header.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    value = request.query_params.get("api_key") or (form.get("api_key") if form is not None else None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def authenticate(keys: ApiKeyStore, token: str | None) -> ApiKey:
    """The caller's live key; 401 when none was presented or it is unknown or revoked."""
    if token is None:
        raise unauthenticated(
            "no API key: send it as api_key, X-API-Key or Authorization: Bearer "
            "(create one with `civicloop apikey create --role ROLE`)"
        )
    key = keys.authenticate(token)
    if key is None:
        raise unauthenticated("the API key is not valid (unknown or revoked)")
    return key


def require(key: ApiKey, action: str) -> None:
    """403 unless ``key``'s role may take ``action``."""
    if action not in PERMITTED[key.role]:
        may = ", ".join(sorted(PERMITTED[key.role]))
        raise forbidden(f"role {key.role_name} may not {action} (it may: {may})")


def caller(request: Request, action: str, form: Mapping[str, object] | None = None) -> ApiKey:
    """The caller's live key (401), when its role may take ``action`` (403); the access log
    names it from here on (its id, never the token)."""
    key = authenticate(backend(request).keys, presented_token(request, form))
    request.state.key_id = key.key_id
    require(key, action)
    return key


def dashboard_reader(request: Request) -> ApiKey:
    """A FastAPI dependency: the caller's key, when its role may see the dashboard. A department
    key sees its own department's figures: the dashboard's filters are fixed to it."""
    key = caller(request, DASHBOARD)
    if key.role == "department" and key.department:
        request.state.dashboard_filters = {"department": key.department}
    return key


def require_own_task(key: ApiKey, task_department: str | None, task_id: str) -> None:
    """403 when a department key acts on another department's task."""
    if key.role == "department" and task_department is not None and task_department != key.department:
        raise forbidden(f"task {task_id!r} belongs to department {task_department!r}, not {key.department!r}")


def may_call_back(key: ApiKey, departments_on_case: set[str]) -> bool:
    """Whether ``key`` may see the reporter's contact: supervisors, and departments with a
    task on the case (their duty is to contact the reporter)."""
    return key.role == "supervisor" or (key.role == "department" and key.department in departments_on_case)
