"""Charts of the figures (plotly), the same for the dashboard and the monthly report.

Each function takes what a ``figures`` function returned and gives a plotly figure as a
JSON-ready dict; the page draws it with the plotly.js that the ``plotly`` package ships
(served by the dashboard, inlined in the report). No trace type that fetches map tiles or
topojson is used: the map is a plain scatter of longitude and latitude.
"""

from __future__ import annotations

import json
import math
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

#: one colour per case state (``projections/fold/states.py``), so the map reads the same everywhere
STATE_COLOURS = {
    "REPORTED": "#9e9e9e",
    "REGISTERED": "#8d6e63",
    "DISPATCHED": "#ff9800",
    "IN_PROGRESS": "#fbc02d",
    "RETURNED": "#e91e63",
    "DISPOSED": "#29b6f6",
    "CHECKED": "#5c6bc0",
    "REOPENED": "#d32f2f",
    "CLOSED": "#43a047",
    "VOIDED": "#bdbdbd",
}
LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "template": "plotly_white",
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.15},
}


def trend(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"]
    starts = [row["start"].isoformat() for row in rows]
    fig = go.Figure(
        [
            go.Bar(x=starts, y=[r["reported"] for r in rows], name="reported", marker_color="#5c6bc0"),
            go.Bar(x=starts, y=[r["closed"] for r in rows], name="closed", marker_color="#43a047"),
            go.Scatter(
                x=starts,
                y=[_percent(r["on_time_closure_rate"]) for r in rows],
                name="on-time closure %",
                yaxis="y2",
                mode="lines+markers",
                line={"color": "#ef6c00"},
                connectgaps=False,
            ),
        ]
    )
    fig.update_layout(
        **LAYOUT,
        title=f"Reported, closed and on-time closure by {data['step']}",
        barmode="group",
        yaxis={"title": "cases"},
        yaxis2={
            "title": "on time %",
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "tickmode": "linear",
            "tick0": 0,
            "dtick": 20,
            "showgrid": False,
        },
    )
    return _json(fig)


def backlog(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"]
    buckets = [row["age_bucket"] for row in rows]
    fig = go.Figure(
        [
            go.Bar(
                x=buckets, y=[r["not_overdue"] for r in rows], name="within deadline", marker_color="#29b6f6"
            ),
            go.Bar(x=buckets, y=[r["overdue"] for r in rows], name="overdue", marker_color="#d32f2f"),
        ]
    )
    fig.update_layout(**LAYOUT, title="Open cases by age", barmode="stack", xaxis={"title": "age"})
    return _json(fig)


def places(data: dict[str, Any]) -> dict[str, Any]:
    points = data["cases"]
    fig = go.Figure()
    states = list(STATE_COLOURS) + sorted({p["state"] for p in points} - set(STATE_COLOURS))
    for state in states:
        colour = STATE_COLOURS.get(state, "#616161")
        mine = [p for p in points if p["state"] == state]
        if mine:
            fig.add_trace(
                go.Scatter(
                    x=[p["lon"] for p in mine],
                    y=[p["lat"] for p in mine],
                    text=[p["case_id"] for p in mine],
                    mode="markers",
                    name=state.lower(),
                    marker={"color": colour, "size": 5, "opacity": 0.75},
                    hovertemplate="%{text}<extra>" + state.lower() + "</extra>",
                )
            )
    mid_lat = sum(p["lat"] for p in points) / len(points) if points else 0.0
    shown = f"{len(points):,} of {data['total']:,}" if data["total"] > len(points) else f"{data['total']:,}"
    fig.update_layout(
        **LAYOUT,
        title=f"Cases reported in the period by state ({shown})",
        xaxis={"title": "longitude", "showgrid": False},
        # a degree of longitude is cos(latitude) of a degree of latitude on the ground
        yaxis={
            "title": "latitude",
            "scaleanchor": "x",
            "scaleratio": 1 / max(math.cos(math.radians(mid_lat)), 0.1),
        },
    )
    return _json(fig)


def problems(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"][::-1]
    fig = go.Figure(
        [
            go.Bar(
                y=[r["category"] for r in rows],
                x=[r["previous"] for r in rows],
                name="previous period",
                orientation="h",
                marker_color="#bdbdbd",
            ),
            go.Bar(
                y=[r["category"] for r in rows],
                x=[r["reported"] for r in rows],
                name="this period",
                orientation="h",
                marker_color="#5c6bc0",
            ),
        ]
    )
    fig.update_layout(**LAYOUT, title="Top problems: cases reported by category", barmode="group")
    return _json(fig)


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _json(fig: go.Figure) -> dict[str, Any]:
    figure: dict[str, Any] = json.loads(pio.to_json(fig, validate=False))
    return figure
