"""The feedback page behind a closed case's link (``GET/POST /feedback/{token}``): the citizen
rates the handling 1–5, says whether the problem is solved, and that becomes a
``FeedbackReceived`` through the SDK and the API's producer, judged by the fold's own guards
like every handling call (docs/NOTIFY.md "The feedback link").

No key: the signed token is the permission (streams/notify/feedback.py). A forged, altered or
expired token is refused before anything else and produces nothing; the event id is derived
from the closure the token names, so a second use finds its own feedback already folded (or
already sent by this process) and says "already rated". English and Simplified Chinese
(``?lang=zh``, else the browser's Accept-Language). No script; one stylesheet of our own, so the
page runs under the API's Content-Security-Policy and loads nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from civicloop.api import usecases
from civicloop.api.backend import VERSION, Backend, backend
from civicloop.streams.notify import feedback

PAGES = Path(__file__).parent / "feedback_pages"
router = APIRouter(prefix="/feedback", include_in_schema=False)
_pages = Environment(loader=FileSystemLoader(PAGES), autoescape=select_autoescape(["html"]))

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "How did we do?",
        "intro": "Your report {case} is closed. Please rate how it was handled.",
        "rating": "Your rating",
        "stars": "1 = very poor, 5 = very good",
        "resolved": "Is the problem solved?",
        "yes": "Yes",
        "no": "No",
        "send": "Send my rating",
        "thanks": "Thank you: your rating was received.",
        "already": "This case has already been rated. Thank you.",
        "expired": "This feedback link has expired.",
        "invalid": "This feedback link is not valid.",
        "unknown": "We cannot find this case yet. Please try again later.",
        "closed_no_more": "This case is no longer waiting for a rating.",
        "bad": "Please choose a rating from 1 to 5 and whether the problem is solved.",
        "comment": "Anything to add? (optional)",
        "bad_comment": "The comment cannot be sent as it is (at most 4,000 characters of text).",
    },
    "zh": {
        "title": "请您评价",
        "intro": "您的诉求 {case} 已办结，请对办理情况进行评价。",
        "rating": "您的评分",
        "stars": "1 分 = 很不满意，5 分 = 非常满意",
        "resolved": "问题是否已解决？",
        "yes": "已解决",
        "no": "未解决",
        "send": "提交评价",
        "thanks": "感谢您的评价，我们已收到。",
        "already": "此诉求已评价过，感谢您的参与。",
        "expired": "此评价链接已过期。",
        "invalid": "此评价链接无效。",
        "unknown": "暂未找到此诉求，请稍后再试。",
        "closed_no_more": "此诉求目前无需评价。",
        "bad": "请选择 1 至 5 分，并说明问题是否已解决。",
        "comment": "其他意见或建议（选填）",
        "bad_comment": "留言无法提交（最多 4000 字的文本）。",
    },
}


def _language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.headers.get("accept-language", "")
    return "zh" if asked.strip().lower().startswith("zh") else "en"


def _page(request: Request, status: int, message: str = "", form: bool = False, case: str = "") -> Response:
    lang = _language(request)
    text = TEXT[lang]
    html = _pages.get_template("feedback.html").render(
        lang="zh-Hans" if lang == "zh" else "en",
        t=text,
        message=text[message] if message else "",
        intro=text["intro"].format(case=case) if form else "",
        form=form,
        action=str(request.url.path) + ("?lang=zh" if lang == "zh" else ""),
        version=VERSION,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/static/feedback.css")
async def stylesheet() -> Response:
    return Response((PAGES / "feedback.css").read_bytes(), media_type="text/css")


def _link(api: Backend, token: str) -> tuple[str, str]:
    return api.with_contacts(lambda keys: feedback.read(keys, token, int(api.config.feedback_ttl)))


@router.get("/{token}")
async def show(token: str, request: Request) -> Response:
    api = backend(request)
    try:
        case_id, closing = await run_in_threadpool(_link, api, token)
    except feedback.InvalidLink as exc:
        return _page(request, 410 if exc.expired else 404, "expired" if exc.expired else "invalid")
    judged = await _judge(api, _rating(case_id, closing, 5, True), send=False)
    if judged != usecases.TAKEN:
        return _page(request, 200 if judged == usecases.ALREADY else 404, judged)
    return _page(request, 200, form=True, case=case_id)


@router.post("/{token}")
async def rate(
    token: str,
    request: Request,
    rating: Annotated[str, Form()] = "",
    resolved: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    api = backend(request)
    try:
        case_id, closing = await run_in_threadpool(_link, api, token)
    except feedback.InvalidLink as exc:
        return _page(request, 410 if exc.expired else 404, "expired" if exc.expired else "invalid")
    if rating not in ("1", "2", "3", "4", "5") or resolved not in ("yes", "no"):
        return _page(request, 400, "bad", form=True, case=case_id)
    given = _rating(case_id, closing, int(rating), resolved == "yes", comment.strip() or None)
    judged = await _judge(api, given)
    if judged == usecases.BAD_COMMENT:
        return _page(request, 400, judged, form=True, case=case_id)
    if judged != usecases.TAKEN:
        return _page(request, 200 if judged == usecases.ALREADY else 404, judged)
    return _page(request, 200, "thanks")


async def _judge(api: Backend, given: usecases.Rating, send: bool = True) -> str:
    """The page's message for ``given`` (``send`` False: whether it would be taken, not sent)."""
    return await usecases.rate_handling(usecases.writes(api), given, send)


def _rating(
    case_id: str, closing: str, stars: int, resolved: bool, comment: str | None = None
) -> usecases.Rating:
    source = f"civicloop-api/{VERSION} feedback link"
    return usecases.Rating(case_id, closing, stars, resolved, comment, source)
