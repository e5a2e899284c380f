"""The console's words in English and Simplified Chinese (the 12345 hotlines' language).

One catalogue: message id → (English, 简体中文). The pages are rendered with the chosen
language's words, and the page scripts get the same words as a JSON data block (never run as
script), so nothing the console shows is in one language only. The language is the one the
person picked (``?lang=``, then kept in a cookie), else the browser's (``Accept-Language``).
"""

from __future__ import annotations

LANGUAGES = ("en", "zh-CN")
COOKIE = "civicloop_lang"

CATALOGUE: dict[str, tuple[str, str]] = {
    "title": ("civicloop console", "civicloop 工作台"),
    "queues": ("Work queues", "工作队列"),
    "search": ("Find cases", "查找案件"),
    "dashboard": ("Dashboard", "数据看板"),
    "language": ("Language", "语言"),
    "skip": ("Skip to content", "跳到正文"),
    "key_prompt": (
        "The console needs your API key (dispatcher, department, supervisor or analyst). "
        "It is kept in this browser tab only.",
        "工作台需要您的 API 密钥（派遣员、部门、督办或分析员）。密钥只保存在本浏览器标签页中。",
    ),
    "api_key": ("API key", "API 密钥"),
    "sign_in": ("Sign in", "登录"),
    "sign_out": ("Sign out", "退出"),
    "signed_in_as": ("Signed in as", "当前身份"),
    "loading": ("Loading…", "加载中…"),
    "nothing": ("Nothing here.", "暂无内容。"),
    "more": ("Next page", "下一页"),
    "first_page": ("First page", "第一页"),
    "csv": ("Export CSV", "导出 CSV"),
    "updated": ("Updated", "更新于"),
    "q": ("Case id or words of the report", "案件编号或报告中的词语"),
    "category": ("Category", "类别"),
    "department": ("Department", "部门"),
    "district": ("District", "区"),
    "grid": ("Grid", "网格"),
    "status": ("Status", "状态"),
    "channel": ("Channel", "渠道"),
    "from": ("Reported from", "上报起始"),
    "to": ("Reported before", "上报截止"),
    "sort": ("Sort by", "排序"),
    "sort_deadline": ("Deadline", "期限"),
    "sort_age": ("Age", "时长"),
    "find": ("Find", "查找"),
    "case": ("Case", "案件"),
    "task": ("Task", "任务"),
    "state": ("State", "状态"),
    "reported": ("Reported", "上报时间"),
    "deadline": ("Deadline", "期限"),
    "priority": ("Priority", "优先级"),
    "duplicates": ("Possible duplicates", "可能重复"),
    "open": ("Open", "打开"),
    # queues
    "q_to_register": ("To register", "待立案"),
    "q_to_dispatch": ("To dispatch", "待派遣"),
    "q_to_accept": ("To accept", "待签收"),
    "q_in_progress": ("In progress", "处理中"),
    "q_due_soon": ("Due within a day", "一天内到期"),
    "q_task_overdue": ("Overdue", "已超期"),
    "q_returned": ("Returned", "已退回"),
    "q_to_check": ("Awaiting check", "待核查"),
    "q_overdue": ("Overdue", "已超期"),
    "q_escalated": ("Escalated", "已升级"),
    "q_reopened": ("Reopened", "已重开"),
    "q_to_close": ("To close", "待结案"),
    # case page
    "report": ("Report", "报告"),
    "description": ("Description", "描述"),
    "address": ("Address", "地址"),
    "coordinates": ("Coordinates", "坐标"),
    "attributes": ("Attributes", "属性"),
    "media": ("Media", "图片"),
    "map": ("Location on the district map", "在区划图上的位置"),
    "tasks": ("Tasks", "任务"),
    "timeline": ("Timeline", "时间线"),
    "signals": ("Signals naming its place", "涉及此地的预警"),
    "actions": ("Actions", "操作"),
    "no_actions": ("This key may take no action on this case now.", "此密钥当前不能对本案件执行任何操作。"),
    "role": ("Role", "角色"),
    "accept_by": ("Accept by", "签收期限"),
    "dispose_by": ("Dispose by", "处置期限"),
    "accepted_at": ("Accepted", "签收时间"),
    "disposed_at": ("Disposed", "处置时间"),
    "working_left": ("Working time left", "剩余工作时间"),
    "overdue_by": ("Overdue by", "已超期"),
    "contact": ("Reporter's contact", "上报人联系方式"),
    "done": ("Done.", "已完成。"),
    "working": ("Sending…", "提交中…"),
    "refused": ("not done — see the form above.", "未完成，请见上方表单。"),
    "note": ("Note", "备注"),
    "media_url": ("Media link", "图片链接"),
    "reason": ("Reason", "原因"),
    "outcome": ("Outcome", "处置结果"),
    "duplicate_of": ("Duplicate of", "重复于"),
    "new_dispose_by": ("New dispose-by", "新的处置期限"),
    "passed": ("Passed", "通过"),
    "failed": ("Failed", "不通过"),
    "resolved": ("Resolved", "已解决"),
    "satisfaction": ("Satisfaction", "满意度"),
    "rating": ("Rating (stars, optional)", "评分（星级，选填）"),
    "comment": ("Reporter's comment (optional)", "上报人意见（选填）"),
    "deadlines_apply": ("Deadlines that will apply", "将适用的期限"),
    "lead": ("lead", "主办"),
    "assist": ("assist", "协办"),
    # actions
    "a_register": ("Register", "立案"),
    "a_void": ("Void", "作废"),
    "a_dispatch": ("Dispatch", "派遣"),
    "a_accept": ("Accept", "签收"),
    "a_contact": ("Contacted the reporter", "已联系上报人"),
    "a_extend": ("Extend", "延期"),
    "a_return": ("Return", "退回"),
    "a_dispose": ("Dispose", "处置"),
    "a_check": ("Check", "核查"),
    "a_close": ("Close", "结案"),
    "a_feedback": ("Feedback", "回访"),
    "a_reopen": ("Reopen", "重开"),
    # states
    "s_REPORTED": ("reported", "已上报"),
    "s_REGISTERED": ("registered", "已立案"),
    "s_DISPATCHED": ("dispatched", "已派遣"),
    "s_IN_PROGRESS": ("in progress", "处理中"),
    "s_RETURNED": ("returned", "已退回"),
    "s_DISPOSED": ("disposed", "已处置"),
    "s_CHECKED": ("checked", "已核查"),
    "s_CLOSED": ("closed", "已结案"),
    "s_REOPENED": ("reopened", "已重开"),
    "s_VOIDED": ("voided", "已作废"),
    # task statuses
    "ts_dispatched": ("dispatched", "待签收"),
    "ts_accepted": ("accepted", "处理中"),
    "ts_returned": ("returned", "已退回"),
    "ts_disposed": ("disposed", "已处置"),
    "ts_closed": ("closed", "已关闭"),
    # events on the timeline
    "e_CaseReported": ("Reported", "上报"),
    "e_CaseRegistered": ("Registered", "立案"),
    "e_CaseVoided": ("Voided", "作废"),
    "e_TaskDispatched": ("Dispatched", "派遣"),
    "e_TaskAccepted": ("Accepted", "签收"),
    "e_CitizenContacted": ("Reporter contacted", "联系上报人"),
    "e_DeadlineExtended": ("Deadline extended", "延期"),
    "e_TaskReturned": ("Returned", "退回"),
    "e_TaskDisposed": ("Disposed", "处置"),
    "e_CaseChecked": ("Checked", "核查"),
    "e_CaseClosed": ("Closed", "结案"),
    "e_FeedbackReceived": ("Feedback", "回访"),
    "e_CaseReopened": ("Reopened", "重开"),
    "e_CaseEscalated": ("Escalated", "升级"),
    "error": ("The server said", "服务器提示"),
    "http_error": ("Request failed", "请求失败"),
}


def language(asked: str | None, cookie: str | None, accept: str | None) -> str:
    """The language to show: asked for, kept from before, else the browser's first we have."""
    for choice in (asked, cookie):
        if choice in LANGUAGES:
            return choice
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh") and tag not in ("zh-tw", "zh-hk", "zh-hant"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def words(lang: str) -> dict[str, str]:
    """Every message in ``lang``."""
    index = LANGUAGES.index(lang)
    return {key: pair[index] for key, pair in CATALOGUE.items()}
