"""The console's pages (``/console``): work queues, search, and one case.

The pages carry no data: they are the chosen language's words and a script, loaded before
the person has entered a key. The script reads through ``/api/v1`` (``worklist``,
``cases/{id}``, ``cases/{id}/actions``) and writes only through the handling API with
``Prefer: wait``, sending the key kept in this browser tab (the dashboard's, entered once per
session) as ``X-API-Key``. Templates are Jinja2 with autoescape; scripts and styles are files
of ``static/`` (the CSP allows no inline script); nothing is loaded from anywhere else.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse

from civicloop.api import pages
from civicloop.api.console import messages

#: the files a page may load, by name
STATIC = ("console.js", "console.css")
PREFIX = "/console"


def _page(request: Request, page: str, **values: str) -> HTMLResponse:
    asked = request.query_params.get("lang")
    lang = messages.language(
        asked, request.cookies.get(messages.COOKIE), request.headers.get("accept-language")
    )
    words = messages.words(lang)
    html = (
        pages.templates("civicloop.api.console")
        .get_template(f"{page}.html")
        .render(
            t=words,
            lang=lang,
            languages=messages.LANGUAGES,
            page=page,
            base=PREFIX,
            version=version("civicloop"),
            words_json=json.dumps(words, ensure_ascii=False).replace("</", "<\\/"),
            **values,
        )
    )
    response = HTMLResponse(html, headers={"Content-Language": lang, "Cache-Control": "no-cache"})
    if asked in messages.LANGUAGES:
        response.set_cookie(messages.COOKIE, lang, samesite="strict", path=PREFIX)
    return response


def create_console_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["console"])

    @router.get("", response_class=HTMLResponse, summary="The console: the key's work queues (a page)")
    def queues_page(request: Request) -> HTMLResponse:
        return _page(request, "queues")

    @router.get("/search", response_class=HTMLResponse, summary="The console: find cases (a page)")
    def search_page(request: Request) -> HTMLResponse:
        return _page(request, "search")

    @router.get("/cases/{case_id}", response_class=HTMLResponse, summary="The console: one case (a page)")
    def case_page(request: Request, case_id: Annotated[str, PathParam(max_length=200)]) -> HTMLResponse:
        return _page(request, "case", case_id=case_id)

    @router.get("/static/{name}", summary="The console's script and styles")
    def static(name: Annotated[str, PathParam(max_length=60)]) -> FileResponse:
        return pages.served(pages.static_file("civicloop.api.console", name, STATIC), name)

    return router
