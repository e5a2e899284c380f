"""``/docs``: Swagger UI for the OpenAPI document, served by the API itself.

The assets come from the pinned ``swagger-ui-py`` package (Swagger UI 5, which reads
OpenAPI 3.1), the page and its start-up script from here: nothing is loaded from anywhere
else, so the docs work offline and under the API's Content-Security-Policy (no inline script).
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, HTTPException
from starlette.responses import FileResponse, HTMLResponse

#: the files a page may load, by name: Swagger UI's, and the page's own start-up script
SWAGGER_UI = ("swagger-ui-bundle.js", "swagger-ui.css")
OWN = ("docs.js",)
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <script src="/docs/static/swagger-ui-bundle.js" defer></script>
  <script src="/docs/static/docs.js" defer></script>
</head>
<body data-openapi="{openapi}" data-state="loading">
  <div id="swagger-ui"></div>
</body>
</html>
"""


@cache
def swagger_ui_folder() -> Path:
    """Where ``swagger-ui-py`` keeps Swagger UI's files (found without importing the
    package, whose handlers import web frameworks)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing: run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def static_file(name: str) -> Path | None:
    if name in SWAGGER_UI:
        return swagger_ui_folder() / name
    if name in OWN:
        return Path(str(resources.files("civicloop.api").joinpath("docs_static", name)))
    return None


def create_docs_router(title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    router = APIRouter(include_in_schema=False)
    page = PAGE.format(title=html.escape(title), openapi=html.escape(openapi_url))

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get("/docs/static/{name}")
    def static(name: str) -> FileResponse:
        found = static_file(name)
        if found is None:
            raise HTTPException(404, f"no static file {name!r}")
        return FileResponse(found, headers={"Cache-Control": "public, max-age=3600"})

    return router
