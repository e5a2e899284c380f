// One case: its facts, its tasks and its timeline (every event from the event log).
"use strict";

const FACTS = [
  ["state", "state"], ["category", "category"], ["priority", "priority"], ["channel", "channel"],
  ["district", "district"], ["grid_id", "grid"], ["lead_department", "lead department"],
  ["reported_at", "reported"], ["registered_at", "registered"], ["first_dispatched_at", "dispatched"],
  ["first_accepted_at", "accepted"], ["first_contacted_at", "reporter contacted"], ["due_at", "due"],
  ["disposed_at", "disposed"], ["checked_at", "checked"], ["closed_at", "closed"], ["voided_at", "voided"],
  ["feedback_at", "feedback"], ["satisfaction", "satisfaction"], ["returns", "returns"],
  ["extensions", "extensions"], ["escalations", "escalations"], ["rework", "rework"], ["reopens", "reopens"],
];
const QUIET = new Set(["type", "event_id", "case_id", "occurred_at", "recorded_at", "actor", "source", "schema_version"]);

function caseId() {
  const parts = location.pathname.split("/");
  return decodeURIComponent(parts[parts.length - 1]);
}

function facts(found) {
  const body = document.querySelector("#case-facts tbody");
  body.replaceChildren(...FACTS.filter(([k]) => found[k] !== null && found[k] !== "").map(([k, label]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = label;
    tr.appendChild(th);
    civicloop.cell(tr, k.endsWith("_at") ? civicloop.moment(found[k]) : String(found[k]), { "data-key": k });
    return tr;
  }));
}

// What the report itself says: where (address, coordinates), the answers to the service's
// questions and the media sent with it. From the CaseReported event of the timeline.
function report(events) {
  const reported = events.find((e) => e.type === "CaseReported");
  if (!reported) return;
  const where = reported.location || {};
  const rows = [
    ["address", "address", where.address],
    ["coordinates", "coordinates", where.lat != null && where.lon != null ? `${where.lat}, ${where.lon}` : null],
    ["attributes", "attributes", reported.attributes ? Object.entries(reported.attributes)
      .map(([code, values]) => `${code}: ${[].concat(values).join(", ")}`).join(" · ") : null],
  ].filter(([, , value]) => value !== null && value !== undefined && value !== "");
  const body = document.querySelector("#case-facts tbody");
  rows.forEach(([key, label, value]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = label;
    tr.appendChild(th);
    civicloop.cell(tr, String(value), { "data-key": key });
    body.appendChild(tr);
  });
  if (/^https?:\/\//i.test(reported.media_url || "")) {  // a link only to a web address
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = "media";
    const td = document.createElement("td");
    td.dataset.key = "media_url";
    const link = document.createElement("a");
    link.href = reported.media_url;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = civicloop.shown(reported.media_url);
    td.appendChild(link);
    tr.append(th, td);
    body.appendChild(tr);
  }
}

function tasks(rows) {
  const table = document.getElementById("tasks");
  civicloop.header(table, ["task", "department", "role", "status", "dispatched", "accept by", "dispose by", "accepted", "disposed"]);
  table.tBodies[0].replaceChildren(...rows.map((t) => {
    const tr = document.createElement("tr");
    [t.task_id, t.department, t.role, t.status, civicloop.moment(t.dispatched_at), civicloop.moment(t.accept_by),
      civicloop.moment(t.dispose_by), civicloop.moment(t.accepted_at), civicloop.moment(t.disposed_at)]
      .forEach((v) => civicloop.cell(tr, v));
    return tr;
  }));
}

function timeline(events) {
  document.getElementById("timeline").replaceChildren(...events.map((e) => {
    const li = document.createElement("li");
    li.dataset.type = e.type;
    const when = document.createElement("time");
    when.textContent = civicloop.moment(e.occurred_at);
    const what = document.createElement("strong");
    what.textContent = e.type;
    const who = document.createElement("span");
    who.className = "actor";
    who.textContent = e.actor ? `${e.actor.type} ${e.actor.id}` : "";
    const details = document.createElement("span");
    details.className = "details";
    details.textContent = civicloop.shown(Object.entries(e)
      .filter(([k, v]) => !QUIET.has(k) && v !== null && typeof v !== "object")
      .map(([k, v]) => `${k}: ${v}`).join(" · "));
    li.append(when, " ", what, " ", who, " ", details);
    return li;
  }));
}

async function load() {
  const id = caseId();
  document.getElementById("case-title").textContent = `Case ${id}`;
  try {
    const found = (await civicloop.getJson(`cases/${encodeURIComponent(id)}`)).case;
    facts(found);
    report(found.timeline);
    tasks(found.tasks);
    timeline(found.timeline);
    document.body.dataset.state = "ready";
  } catch (error) {
    civicloop.failed(error, load);
  }
}

load();
