"""Charts of the figures (plotly), the same for the dashboard and the monthly report.

Each function takes what a ``figures`` function returned and gives a plotly figure as a
JSON-ready dict; the page draws it with the plotly.js that the ``plotly`` package ships
(served by the dashboard, inlined in the report). No trace type that fetches map tiles or
topojson is used: the map is a plain scatter of longitude and latitude, drawn over the
districts of the boundaries file (``civicloop/geography.py``) as filled outlines, and framed
on them — not on the points, so a few reports far away cannot squash the city into a dot.
"""

from __future__ import annotations

import json
import math
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from civicloop.geography import Boundaries

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


DISTRICT_LINE, DISTRICT_FILL = "#78909c", "rgba(120, 144, 156, 0.08)"
#: the extent's margin around the service area, as a share of its width and height
PAD = 0.03


def places(data: dict[str, Any], boundaries: Boundaries | None = None) -> dict[str, Any]:
    """The cases as points coloured by state; with ``boundaries`` that cover any of them (or
    when there are none), over the districts and framed on the service area."""
    points = data["cases"]
    fig = go.Figure()
    frame = _frame(boundaries, points)
    if frame is not None and boundaries is not None:
        _districts(fig, boundaries)
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
    if frame is None:
        mid_lat = sum(p["lat"] for p in points) / len(points) if points else 0.0
        xaxis: dict[str, Any] = {}
        yaxis: dict[str, Any] = {}
        outside = ""
    else:
        west, south, east, north = frame
        mid_lat = (south + north) / 2
        # constrain="domain": the plot area shrinks to the map's shape, the ranges stay as set
        xaxis = {"range": [west, east], "constrain": "domain"}
        yaxis = {"range": [south, north], "constrain": "domain"}
        _district_names(fig, boundaries)  # last: the names on top of the cases
        away = sum(1 for p in points if not (west <= p["lon"] <= east and south <= p["lat"] <= north))
        outside = f"; {away:,} outside the map" if away else ""
    shown = f"{len(points):,} of {data['total']:,}" if data["total"] > len(points) else f"{data['total']:,}"
    fig.update_layout(
        # the states beside the map, so the map keeps the chart's height
        **{**LAYOUT, "legend": {"orientation": "v", "x": 1.02, "y": 1}},
        title=f"Cases reported in the period by state ({shown}{outside})",
        xaxis={"title": "longitude", "showgrid": False, **xaxis},
        # a degree of longitude is cos(latitude) of a degree of latitude on the ground
        yaxis={
            "title": "latitude",
            "showgrid": False,
            "scaleanchor": "x",
            "scaleratio": 1 / max(math.cos(math.radians(mid_lat)), 0.1),
            **yaxis,
        },
    )
    return _json(fig)


def _frame(
    boundaries: Boundaries | None, points: list[dict[str, Any]]
) -> tuple[float, float, float, float] | None:
    """The service area with a margin, if the map should show it: it covers some of the points
    (a file for another city would frame an empty map), or there are none."""
    if boundaries is None:
        return None
    west, south, east, north = boundaries.bounds
    if points and not any(west <= p["lon"] <= east and south <= p["lat"] <= north for p in points):
        return None
    dx, dy = (east - west) * PAD, (north - south) * PAD
    return west - dx, south - dy, east + dx, north + dy


def _districts(fig: go.Figure, boundaries: Boundaries) -> None:
    """Each district as a filled outline (its holes as lines); none in the legend, none
    answering a hover or a click."""
    for outline in boundaries.outlines():
        xs: list[float | None] = []
        ys: list[float | None] = []
        for ring in outline.rings:
            xs += [x for x, _ in ring] + [None]
            ys += [y for _, y in ring] + [None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=outline.name,
                meta=outline.code,
                legendgroup="districts",
                showlegend=False,
                mode="lines",
                fill="toself",
                fillcolor=DISTRICT_FILL,
                line={"color": DISTRICT_LINE, "width": 1},
                hoverinfo="skip",
            )
        )


def _district_names(fig: go.Figure, boundaries: Boundaries | None) -> None:
    """Every district's name at its label point."""
    outlines = boundaries.outlines() if boundaries else []
    fig.add_trace(
        go.Scatter(
            x=[o.label[0] for o in outlines],
            y=[o.label[1] for o in outlines],
            text=[o.name for o in outlines],
            name="district names",
            legendgroup="districts",
            showlegend=False,
            mode="text",
            textfont={"color": "#37474f", "size": 12, "shadow": "auto"},
            hoverinfo="skip",
        )
    )


def problems(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"][::-1]
    fig = go.Figure(
        [
            go.Bar(
                y=[r["category"] for r in rows],
                x=[r[column] for r in rows],
                name=name,
                orientation="h",
                marker_color=colour,
            )
            for column, name, colour in (
                ("previous", "previous period", "#bdbdbd"),
                ("reported", "this period", "#5c6bc0"),
            )
        ]
    )
    fig.update_layout(**LAYOUT, title="Top problems: cases reported by category", barmode="group")
    return _json(fig)


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _json(fig: go.Figure) -> dict[str, Any]:
    figure: dict[str, Any] = json.loads(pio.to_json(fig, validate=False))
    return figure
