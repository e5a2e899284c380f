// The dashboard: filters in the address bar, figures from /api/*, charts drawn by plotly.js.
// When every figure of a load is on the page, body[data-state] is "ready" and
// body[data-loaded] holds the query they were loaded for (the browser test waits on both).
"use strict";

const FILTERS = ["department", "category", "district", "channel"];
const DAY_MS = 86400000;

function chosen() {
  const params = new URLSearchParams(location.search);
  const today = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
  const to = params.get("to") || new Date(today.getTime() + DAY_MS).toISOString().slice(0, 10);
  const from = params.get("from") || new Date(Date.parse(to) - 30 * DAY_MS).toISOString().slice(0, 10);
  const query = { from, to };
  FILTERS.forEach((name) => { if (params.get(name)) query[name] = params.get(name); });
  if (params.get("step")) query.step = params.get("step");
  return query;
}

function fillForm(query) {
  document.getElementById("f-from").value = query.from.slice(0, 10);
  document.getElementById("f-through").value = new Date(Date.parse(query.to) - DAY_MS).toISOString().slice(0, 10);
  FILTERS.forEach((name) => { document.getElementById(`f-${name}`).value = query[name] || ""; });
  document.getElementById("f-step").value = query.step || "";
}

function fromForm() {
  const through = document.getElementById("f-through").value;
  const query = {
    from: document.getElementById("f-from").value,
    to: new Date(Date.parse(through) + DAY_MS).toISOString().slice(0, 10),
  };
  FILTERS.forEach((name) => {
    const value = document.getElementById(`f-${name}`).value;
    if (value) query[name] = value;
  });
  const step = document.getElementById("f-step").value;
  if (step) query.step = step;
  return query;
}

let choices = null;  // the filters' values: read once per page, not on every change

async function fillChoices() {
  const found = choices || (choices = await civicloop.getJson("choices"));
  FILTERS.forEach((name) => {
    const select = document.getElementById(`f-${name}`);
    const current = select.value;
    const options = [new Option("all", "")].concat(found[name].map((v) => new Option(v, v)));
    select.replaceChildren(...options);
    select.value = current;
  });
}

function tile(t) {
  const div = document.createElement("div");
  div.className = "tile";
  div.dataset.key = t.key;
  div.dataset.value = t.value === null ? "null" : String(t.value);
  div.dataset.previous = t.previous === null ? "null" : String(t.previous);
  const label = document.createElement("div");
  label.className = "label";
  label.textContent = t.label;
  const value = document.createElement("div");
  value.className = "value";
  value.textContent = t.kind === "rate" ? civicloop.rate(t.value) : civicloop.count(t.value);
  const change = document.createElement("div");
  change.className = "change";
  const previous = t.kind === "rate" ? civicloop.rate(t.previous) : civicloop.count(t.previous);
  if (t.change === null) {
    change.textContent = `previous ${previous}`;
  } else {
    const sign = t.change > 0 ? "▲" : t.change < 0 ? "▼" : "=";
    const size = t.kind === "rate" ? `${(Math.abs(t.change) * 100).toFixed(1)} pp` : `${(Math.abs(t.change) * 100).toFixed(1)} %`;
    change.textContent = `${sign} ${size} vs previous (${previous})`;
  }
  div.append(label, value, change);
  return div;
}

function draw(id, figure) {
  Plotly.react(id, figure.data, figure.layout, { displayModeBar: false, responsive: true });
}

// A click on a case on the map opens its page (attached once; Plotly.react keeps the div).
function openCaseOnClick(map) {
  if (map.dataset.clicks) return;
  map.dataset.clicks = "on";
  map.on("plotly_click", (event) => {
    const id = event.points[0] && event.points[0].text;
    if (id) location.href = `${civicloop.base()}/cases/${encodeURIComponent(id)}`;
  });
}

function league(rows) {
  const table = document.getElementById("league");
  civicloop.header(table, ["#", "department", "on-time closure", "satisfaction", "closure", "response", "returns", "rework", "due", "reported"]);
  table.tBodies[0].replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.department = r.department;
    civicloop.cell(tr, r.rank);
    civicloop.cell(tr, r.department);
    ["on_time_closure_rate", "satisfaction_rate", "closure_rate", "response_rate", "return_rate", "rework_rate"].forEach((k) => {
      civicloop.cell(tr, civicloop.rate(r[k]), { "data-key": k, "data-value": r[k] === null ? "null" : String(r[k]) });
    });
    ["due", "reported"].forEach((k) => civicloop.cell(tr, civicloop.count(r[k]), { "data-key": k, "data-value": String(r[k]) }));
    return tr;
  }));
}

// One page of the period's signals, latest first; each with the window it counted over.
function signals(found, query) {
  const table = document.getElementById("signals");
  civicloop.header(table, ["occurred at", "type", "category", "place", "window", "observed", "expected"]);
  const body = found.rows.length ? found.rows.map((r) => {
    const tr = document.createElement("tr");
    [civicloop.moment(r.occurred_at), r.type, r.category, `${r.level} ${r.place}`,
      `${r.window} from ${civicloop.moment(r.window_start)}`, r.observed, r.expected]
      .forEach((v) => civicloop.cell(tr, v));
    return tr;
  }) : [emptyRow(7, "no signals in this period")];
  table.tBodies[0].replaceChildren(...body);
  const first = (found.page - 1) * found.page_size;
  const pager = document.getElementById("signals-pager");
  pager.hidden = found.pages < 2;
  document.getElementById("signals-shown").textContent = found.total
    ? `${Math.min(first + 1, found.total)}–${Math.min(first + found.rows.length, found.total)} of ${found.total}` : "";
  const turn = (to) => async () => {
    try {
      signals(await civicloop.getJson("signals", { ...query, page: String(to) }), query);
    } catch (error) {
      civicloop.showError(error.message);
    }
  };
  const newer = document.getElementById("signals-newer");
  const older = document.getElementById("signals-older");
  newer.disabled = found.page <= 1;
  older.disabled = found.page >= found.pages;
  newer.onclick = turn(found.page - 1);
  older.onclick = turn(found.page + 1);
}

function emptyRow(span, text) {
  const tr = document.createElement("tr");
  civicloop.cell(tr, text, { colspan: span, class: "empty" });
  return tr;
}

// The command line comes from the server, each argument quoted there (shlex.quote): the
// filters are the URL's, and a crafted link must not become a command someone pastes.
function sameAs(command) {
  document.getElementById("same-as").textContent = `Same figures: ${command}`;
}

async function load() {
  const query = chosen();
  const loaded = new URLSearchParams(query).toString();
  document.body.dataset.state = "loading";
  fillForm(query);
  civicloop.showError("");
  const through = new Date(Date.parse(query.to) - DAY_MS).toISOString().slice(0, 10);
  document.getElementById("period").textContent = `${query.from} through ${through} (UTC)`;
  try {
    await fillChoices();
    fillForm(query);
    const [head, trend, backlog, table, places, problems, raised] = await Promise.all(
      ["headline", "trend", "backlog", "league", "places", "problems", "signals"].map((p) => civicloop.getJson(p, query)));
    document.getElementById("tiles").replaceChildren(...head.tiles.map(tile));
    draw("trend", trend.figure);
    draw("backlog", backlog.figure);
    league(table.rows);
    draw("places", places.figure);
    openCaseOnClick(document.getElementById("places"));
    draw("problems", problems.figure);
    signals(raised, query);
    sameAs(head.command);
    document.body.dataset.loaded = loaded;
    document.body.dataset.state = "ready";
  } catch (error) {
    civicloop.failed(error, load);
  }
}

document.getElementById("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  history.pushState(null, "", `?${new URLSearchParams(fromForm()).toString()}`);
  load();
});
document.getElementById("find-case").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = document.getElementById("case-id").value.trim();
  if (id) location.href = `${civicloop.base()}/cases/${encodeURIComponent(id)}`;
});
window.addEventListener("popstate", load);
load();
