"""Projections of N simulated cases made inside ClickHouse, for timing the metric queries.

Folding 10 M events into 1 M cases' rows would time the replay, not the queries; so the rows
are made directly by ``INSERT … SELECT … FROM numbers(N)``. Every value is a function of the
case number through ``cityHash64(number, k)``: a run is reproducible, and chDB and a
ClickHouse 18.16 server get the same rows. Only functions 18.16 has (checked against it).

The shape follows a city hotline over one year (or ``years``, ending on the same day): 40
categories (skewed) led by 14 departments, 10 districts of 20 grids, 8 channels (skewed), about
85 % closed, deadlines from the category class, a few voided, returned, reworked, extended,
escalated or reopened cases, feedback on about 60 % of closed ones; one task per dispatched
case plus an assist or a returned first task for about 20 %. A tenth of the cases also have an
older row version in another part, so ``FINAL`` has real duplicates to collapse, as in a live
table.
"""

from __future__ import annotations

from civicloop.projections.tables import periods, schema

DAY = 86400


def u(k: int) -> str:
    """A uniform number in [0, 1) drawn from the case number (stream ``k``)."""
    return f"((cityHash64(number, {k}) % 1000000) / 1000000)"


def pick(values: tuple[str, ...], index: str) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"[{quoted}][1 + {index}]"


def _at(text: str) -> str:
    return f"toDateTime('{text}', 'UTC')"


CHANNELS = ("hotline", "app", "wechat", "web", "grid_inspector", "email", "walk_in", "media")
PRIORITIES = ("urgent", "high", "normal", "low")
SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")

# Per case, in terms of `number` (the case number). Aliases are reused by later expressions;
# t_* are the times each step would happen, reached_* whether the case got that far by the
# end of the year. Stage: 1 registered, 2 dispatched, 3 accepted, 4 disposed, 5 checked,
# 6 closed; 8 % of cases stop early (waiting on something), 3 % are voided.
CASE_BASE: dict[str, str] = {
    "cat": f"toUInt32(floor(40 * pow({u(1)}, 1.6)))",
    "cls": "cat % 4",  # deadline class: emergency, utility, general, complex
    "dist": "cityHash64(number, 3) % 10",
    "prio": f"multiIf({u(4)} < 0.03, 0, {u(4)} < 0.18, 1, {u(4)} < 0.92, 2, 3)",
    "accept_window": "[1800, 3600, 7200, 7200][1 + cls]",
    "dispose_window": f"[2 * 3600, {DAY}, 7 * {DAY}, 15 * {DAY}][1 + cls]",
    "t_rep": "",  # reported(years), made per statement
    "t_reg": f"t_rep + toUInt32(30 + {u(7)} * 1800)",
    "t_disp": f"t_reg + toUInt32(120 + pow({u(8)}, 2) * 14400)",
    "t_acc": f"t_disp + toUInt32(60 + pow({u(9)}, 2) * accept_window * 1.5)",
    "t_con": f"t_acc + toUInt32(60 + {u(10)} * 900)",
    "extended": f"{u(19)} < 0.10",
    "t_dsp": f"t_acc + toUInt32(dispose_window * (0.05 + 1.1 * pow({u(11)}, 2)) * if(extended, 1.5, 1))",
    "t_chk": f"t_dsp + toUInt32(300 + {u(12)} * dispose_window * 0.1)",
    "t_cls": f"t_chk + toUInt32(60 + {u(13)} * 1800)",
    "t_fb": f"t_cls + toUInt32(3600 + {u(14)} * 3 * {DAY})",
    "horizon": _at("2026-01-01 00:00:00"),
    "voided": f"{u(15)} < 0.03",
    "stage": f"if(voided, 1, if({u(16)} < 0.08, 1 + toUInt8(floor({u(17)} * 5)), 6))",
    "reached_disp": "stage >= 2 AND t_disp <= horizon",
    "reached_acc": "stage >= 3 AND t_acc <= horizon",
    "reached_dsp": "stage >= 4 AND t_dsp <= horizon",
    "reached_chk": "stage >= 5 AND t_chk <= horizon",
    "reached_cls": "stage >= 6 AND t_cls <= horizon",
    "reached_fb": f"reached_cls AND {u(18)} < 0.60 AND t_fb <= horizon",
    "reworked": f"if(reached_dsp AND {u(20)} < 0.08, 1, 0)",
    "returned": f"reached_disp AND {u(21)} < 0.06",
    "assisted": f"reached_disp AND NOT returned AND {u(22)} < 0.15",
}

# One expression per column of case_lifecycle (projections/tables/lifecycle.py).
CASE_COLUMNS: dict[str, str] = {
    "case_id": "concat('case-', toString(number))",
    "state": "multiIf(voided, 'VOIDED', reached_cls, 'CLOSED', reached_chk, 'CHECKED', "
    "reached_dsp, 'DISPOSED', reached_acc, 'IN_PROGRESS', reached_disp, 'DISPATCHED', "
    "'REGISTERED')",
    "category": "concat('category_', toString(cat))",
    "priority": pick(PRIORITIES, "prio"),
    "channel": pick(CHANNELS, f"toUInt32(floor(8 * pow({u(5)}, 2)))"),
    "district": "concat('district_', toString(dist))",
    "grid_id": "concat('district_', toString(dist), '-grid_', toString(cityHash64(number, 2) % 20))",
    "lat": f"31.1 + {u(23)} * 0.3",
    "lon": f"121.3 + {u(24)} * 0.3",
    "lead_department": "concat('department_', toString(cat % 14))",
    "lead_task_id": "if(reached_disp, concat('task-', toString(number), '-1'), '')",
    "reported_at": "t_rep",
    "registered_at": "toNullable(t_reg)",
    "first_dispatched_at": "if(reached_disp, t_disp, NULL)",
    "first_accepted_at": "if(reached_acc, t_acc, NULL)",
    "first_contacted_at": "if(reached_acc AND t_con <= horizon, t_con, NULL)",
    "disposed_at": "if(reached_dsp, t_dsp, NULL)",
    "checked_at": "if(reached_chk, t_chk, NULL)",
    "closed_at": "if(reached_cls, t_cls, NULL)",
    "voided_at": "if(voided, t_reg + 600, NULL)",
    "feedback_at": "if(reached_fb, t_fb, NULL)",
    "closure_reason": "if(reached_cls, 'resolved', '')",
    "void_reason": "if(voided, 'duplicate', '')",
    "duplicate_of": "if(voided, concat('case-', toString(number + 1)), '')",
    "due_at": "if(reached_disp, t_disp + toUInt32(dispose_window * if(extended, 1.5, 1)), NULL)",
    "accept_by": "if(reached_disp, t_disp + accept_window, NULL)",
    "tasks": "toUInt16(if(reached_disp, 1 + if(returned OR assisted, 1, 0), 0))",
    "returns": "toUInt16(if(returned, 1, 0))",
    "extensions": "toUInt16(if(reached_disp AND extended, 1, 0))",
    "escalations": f"toUInt16(if(reached_disp AND {u(25)} < 0.05, 1, 0))",
    "escalation_level": f"toUInt8(if(reached_disp AND {u(25)} < 0.05, 1, 0))",
    "disposals": "toUInt16(if(reached_dsp, 1 + reworked, 0))",
    "rework": "toUInt16(reworked)",
    "reopens": f"toUInt16(if(reached_cls AND {u(26)} < 0.03, 1, 0))",
    "resolved": f"if(reached_fb, toUInt8({u(27)} < 0.8), NULL)",
    "satisfaction": f"if(reached_fb, {pick(SATISFACTION, f'toUInt32(floor(3 * pow({u(28)}, 2)))')}, '')",
    "report_to_register_ws": "toNullable(toInt64(t_reg) - toInt64(t_rep))",
    "register_to_dispatch_ws": "if(reached_disp, toInt64((toInt64(t_disp) - toInt64(t_reg)) * 0.6), NULL)",
    "report_to_close_ws": "if(reached_cls, toInt64((toInt64(t_cls) - toInt64(t_rep)) * 0.3), NULL)",
    "version": "toUInt64(2 + stage * 2 + if(reached_fb, 1, 0))",
    "updated_at": "coalesce(if(reached_fb, t_fb, NULL), if(reached_cls, t_cls, NULL), "
    "if(reached_dsp, t_dsp, NULL), if(reached_disp, t_disp, NULL), t_reg)",
}

# One expression per column of projections/sql/case_tasks.sql, for the lead task; EXTRA_TASK
# overrides the columns that differ for the second task (an assist, or the returned first
# dispatch that the lead task replaced).
TASK_COLUMNS: dict[str, str] = {
    "case_id": CASE_COLUMNS["case_id"],
    "task_id": "concat('task-', toString(number), '-1')",
    "department": CASE_COLUMNS["lead_department"],
    "role": "'lead'",
    "status": "multiIf(reached_cls, 'closed', reached_dsp, 'disposed', reached_acc, 'accepted', "
    "'dispatched')",
    **{c: CASE_COLUMNS[c] for c in ("category", "priority", "channel", "district", "grid_id")},
    "dispatched_at": "t_disp",
    "accept_by": "toNullable(t_disp + accept_window)",
    "dispose_by": CASE_COLUMNS["due_at"],
    "original_dispose_by": "toNullable(t_disp + dispose_window)",
    "accepted_at": CASE_COLUMNS["first_accepted_at"],
    "contacted_at": CASE_COLUMNS["first_contacted_at"],
    "returned_at": "CAST(NULL AS Nullable(DateTime('UTC')))",
    "disposed_at": CASE_COLUMNS["disposed_at"],
    "return_reason": "''",
    "outcome": "if(reached_dsp, 'fixed', '')",
    "extensions": CASE_COLUMNS["extensions"],
    "dispatch_to_accept_ws": "if(reached_acc, toInt64(t_acc) - toInt64(t_disp), NULL)",
    "dispatch_to_dispose_ws": "if(reached_dsp, toInt64((toInt64(t_dsp) - toInt64(t_disp)) * 0.3), NULL)",
    "version": CASE_COLUMNS["version"],
    "updated_at": CASE_COLUMNS["updated_at"],
}
EXTRA_TASK: dict[str, str] = {
    "task_id": "concat('task-', toString(number), '-0')",
    "department": "concat('department_', toString((cat + 1 + cityHash64(number, 30) % 13) % 14))",
    "role": "if(returned, 'lead', 'assist')",
    "status": "if(returned, 'returned', 'disposed')",
    "accepted_at": "if(returned, NULL, t_disp + 900)",
    "contacted_at": "CAST(NULL AS Nullable(DateTime('UTC')))",
    "returned_at": "if(returned, t_disp - 60, NULL)",
    "disposed_at": "if(returned, NULL, t_disp + 7200)",
    "return_reason": "if(returned, 'not_our_responsibility', '')",
    "outcome": "if(returned, '', 'assisted')",
    "dispatch_to_accept_ws": "if(returned, NULL, toInt64(900))",
    "dispatch_to_dispose_ws": "if(returned, NULL, toInt64(2100))",
}


def reported(years: int) -> str:
    """When a case is reported: uniform over the ``years`` before the horizon (2026-01-01)."""
    start = _at(f"{2026 - years}-01-01 00:00:00")
    return f"{start} + toUInt32({u(6)} * {365 * years} * {DAY})"


def _select(columns: dict[str, str], cases: int, where: str = "1", years: int = 1) -> str:
    # ClickHouse (18.16 included) lets an expression name an alias defined before it in the
    # same SELECT, so the base values are computed once per row in the inner query.
    made = {**CASE_BASE, "t_rep": reported(years)}
    base = ",\n    ".join(f"{expr} AS {name}" for name, expr in made.items())
    outer = ",\n    ".join(f"{expr} AS `{name}`" for name, expr in columns.items())
    return f"SELECT {outer}\nFROM (SELECT number,\n    {base}\n  FROM numbers({cases}))\nWHERE {where}"


def inserts(db: str, cases: int, years: int = 1) -> list[str]:
    """The statements that fill ``db.case_lifecycle`` and ``db.case_tasks`` with ``cases``
    reported over ``years`` (ending 2026-01-01), and then the months their rows touch into
    ``db.period_spans`` (tables exist)."""
    stale = {
        **CASE_COLUMNS,
        "version": "toUInt64(1)",
        "state": "'REGISTERED'",
        "closed_at": "CAST(NULL AS Nullable(DateTime('UTC')))",
    }
    extra = {**TASK_COLUMNS, **EXTRA_TASK}
    return [
        _insert(db, schema.CASE_LIFECYCLE, stale, cases, "cityHash64(number, 40) % 10 = 0", years),
        _insert(db, schema.CASE_LIFECYCLE, CASE_COLUMNS, cases, "1", years),
        _insert(db, schema.CASE_TASKS, TASK_COLUMNS, cases, "reached_disp", years),
        _insert(db, schema.CASE_TASKS, extra, cases, "returned OR assisted", years),
        *(spans(db, table) for table in periods.PERIOD_COLUMNS),
    ]


def spans(db: str, table: str) -> str:
    """``period_spans`` of ``table``'s rows, as the projector writes them for its batches."""
    key, columns = periods.PERIOD_COLUMNS[table]
    first, last = f"{key}", f"{key}"
    for column in columns:
        if column != key:
            first = f"least({first}, ifNull({column}, {key}))"
            last = f"greatest({last}, ifNull({column}, {key}))"
    return (
        f"INSERT INTO {db}.{schema.PERIOD_SPANS} (source, month, first_at, last_at)\n"
        f"SELECT '{table}', toYYYYMM({key}) AS m, min({first}), max({last}) "
        f"FROM {db}.{table} GROUP BY m"
    )


def _insert(
    db: str, table: str, columns: dict[str, str], cases: int, where: str = "1", years: int = 1
) -> str:
    names = ", ".join(f"`{name}`" for name in columns)
    return f"INSERT INTO {db}.{table} ({names})\n{_select(columns, cases, where, years)}"
