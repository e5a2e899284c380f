// The console: work queues, search and one case, read from /api/v1 and written only through the
// handling API with `Prefer: wait`. The key lives in this tab's sessionStorage (the dashboard's
// too) and goes out as X-API-Key to this server only. Every text from the API is set as text.
"use strict";

const KEY = "civicloop.apiKey";
const POLL_MS = 5000;
const T = JSON.parse(document.getElementById("words").textContent);
const page = document.body.dataset.page;
const $ = (id) => document.getElementById(id);

class KeyNeeded extends Error {}
class Refused extends Error {}

function t(id, fallback) { return T[id] || fallback || id; }

async function problem(response) {
  try {
    const body = await response.json();
    if (body.errors) return body.errors.map((e) => e.description).join("; ");
    if (body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (ignored) { /* not JSON */ }
  return `${t("http_error")}: HTTP ${response.status}`;
}

// GET or POST /api/v1/<path>; `etag` makes it conditional (null back for 304).
async function api(path, { method = "GET", body, etag, raw } = {}) {
  const key = sessionStorage.getItem(KEY);
  if (!key) throw new KeyNeeded("");
  const headers = { "X-API-Key": key };
  if (etag) headers["If-None-Match"] = etag;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers.Prefer = "wait=20";
  }
  const response = await fetch(`/api/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 304) return null;
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    throw new KeyNeeded(await problem(response));
  }
  if (!response.ok) throw new Refused(await problem(response));
  if (raw) return response;
  const data = await response.json();
  return { data, etag: response.headers.get("ETag"), status: response.status };
}

function showError(text) {
  $("error").textContent = text ? `${t("error")}: ${text}` : "";
  $("error").hidden = !text;
}

function askForKey(reason, then) {
  const dialog = $("key-dialog");
  $("key-error").textContent = reason || "";
  $("key-form").onsubmit = () => {
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("api-key").value = "";
    then();
  };
  document.body.dataset.state = "key";
  if (!dialog.open) dialog.showModal();
}

// Run `work`; a missing key asks for one, any other failure is shown in words.
async function guarded(work) {
  try {
    await work();
    showError("");
  } catch (error) {
    if (error instanceof KeyNeeded) askForKey(error.message, () => guarded(work));
    else {
      document.body.dataset.state = "error";
      showError(error.message);
    }
  }
}

function moment(text) {
  return text ? text.replace("T", " ").replace(/(:\d\d)(\.\d+)?(Z|\+00:00)$/, "$1 UTC") : "—";
}

// Working time (office seconds of the deadline policy's calendar) as days, hours and minutes.
function working(seconds, day) {
  const s = Math.abs(seconds);
  const d = Math.floor(s / day);
  const h = Math.floor((s % day) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const text = `${d ? d + " d " : ""}${h} h ${m} min`;
  return seconds < 0 ? `${t("overdue_by")} ${text}` : text;
}

function left(deadline) {
  if (!deadline) return "—";
  const ms = Date.parse(deadline) - Date.now();
  const hours = Math.abs(ms) / 3600000;
  const text = hours >= 48 ? `${Math.floor(hours / 24)} d` : `${Math.floor(hours)} h ${Math.floor((hours % 1) * 60)} min`;
  return ms < 0 ? `${t("overdue_by")} ${text}` : text;
}

// Control and bidi characters in text an older revision of the event contract accepted
// (docs/TRUST.md §1) are shown as their code points: `refund \u202e001$` cannot read `refund $100`.
const HIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function shown(text) {
  return String(text).replace(HIDDEN, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
}

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = shown(text);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  return node;
}

function who(role, department) {
  $("who").textContent = `${t("signed_in_as")}: ${role}${department ? ":" + department : ""}`;
}

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  location.reload();
});

// ---- lists: a queue or a search, a page at a time ------------------------------------------

const list = { params: {}, cursors: [null], etag: null, timer: null, asked: 0 };

function query(extra) {
  const params = new URLSearchParams();
  Object.entries({ ...list.params, ...extra }).forEach(([k, v]) => { if (v) params.set(k, v); });
  return params.toString();
}

function renderRows(rows, queue) {
  const tbody = $("list").tBodies[0];
  const dups = queue === "to_register";
  document.querySelectorAll("#list .dups").forEach((th) => { th.hidden = !dups; });
  tbody.replaceChildren(...rows.map((row) => {
    const tr = el("tr", null, { "data-case-id": row.case_id });
    const link = el("a", row.case_id, { href: `${document.body.dataset.base}/cases/${encodeURIComponent(row.case_id)}` });
    const first = el("td");
    first.appendChild(link);
    if (row.task_id) first.appendChild(el("small", ` ${row.task_id}`));
    tr.appendChild(first);
    [t(`s_${row.state}`, row.state) + (row.task_status ? ` / ${t(`ts_${row.task_status}`, row.task_status)}` : ""), row.category, row.district,
      row.department, moment(row.reported_at), moment(row.deadline)].forEach((v) => tr.appendChild(el("td", v)));
    if (dups) {
      const td = el("td", null, { class: "dups" });
      (row.nearby || []).forEach((n) => {
        td.appendChild(el("a", `${n.case_id} (${n.distance_m} m)`, { href: `${document.body.dataset.base}/cases/${encodeURIComponent(n.case_id)}` }));
        td.appendChild(document.createTextNode(" "));
      });
      tr.appendChild(td);
    }
    return tr;
  }));
  $("empty").hidden = rows.length > 0;
}

async function loadList(conditional) {
  const cursor = list.cursors[list.cursors.length - 1];
  const asked = ++list.asked;  // an answer to an older question (another queue, page) is dropped
  const found = await api(`worklist?${query({ after: cursor })}`, { etag: conditional ? list.etag : null });
  if (found === null || asked !== list.asked) return null;  // unchanged, or no longer asked for
  list.etag = found.etag;
  const data = found.data;
  who(data.role, data.department);
  renderRows(data.rows, data.queue);
  list.next = data.next;
  $("next-page").hidden = !data.next;
  $("first-page").hidden = list.cursors.length < 2;
  $("updated").textContent = `${t("updated")} ${new Date().toLocaleTimeString()}`;
  document.body.dataset.state = "ready";
  document.body.dataset.rows = String(data.rows.length);
  return data;
}

function poll(work) {
  clearInterval(list.timer);
  list.timer = setInterval(() => {
    if (document.hidden || !sessionStorage.getItem(KEY)) return;
    work().catch((error) => showError(error.message));
  }, POLL_MS);
}

async function downloadCsv(event) {
  event.preventDefault();
  await guarded(async () => {
    const response = await api(`worklist?${query({ format: "csv" })}`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const a = el("a", null, { href: url, download: `civicloop-${list.params.queue || "cases"}.csv` });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}

function pagerButtons() {
  $("next-page").addEventListener("click", () => {
    list.cursors.push(list.next);
    list.etag = null;
    guarded(() => loadList(false));
  });
  $("first-page").addEventListener("click", () => {
    list.cursors = [null];
    list.etag = null;
    guarded(() => loadList(false));
  });
  $("csv").addEventListener("click", downloadCsv);
}

function queuesPage() {
  pagerButtons();
  const chosen = () => decodeURIComponent(location.hash.slice(1));
  async function show() {
    const first = await loadList(false);
    if (first === null) return;  // another queue was chosen meanwhile
    const tabs = $("queue-tabs");
    if (!tabs.childElementCount) {
      first.queues.forEach((name) => {
        const tab = el("button", t(`q_${name}`, name), { type: "button", id: `queue-${name}` });
        tab.addEventListener("click", () => { location.hash = name; });
        tabs.appendChild(tab);
      });
      if (!first.queues.includes(list.params.queue) && first.queues.length) {
        location.hash = first.queues[0];  // runs show() again for that queue
        return;
      }
    }
    tabs.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.id === `queue-${list.params.queue}`)));
    $("list-caption").textContent = t(`q_${list.params.queue}`, "");
  }
  function choose() {
    list.params = { queue: chosen() };
    list.cursors = [null];
    list.etag = null;
    guarded(show);
  }
  window.addEventListener("hashchange", choose);
  choose();
  poll(() => loadList(true));
}

function searchPage() {
  pagerButtons();
  const form = $("search-form");
  const from = new URLSearchParams(location.search);
  Array.from(form.elements).forEach((f) => { if (f.name && from.get(f.name)) f.value = from.get(f.name); });
  function read() {
    list.params = {};
    Array.from(form.elements).forEach((f) => { if (f.name && f.value.trim()) list.params[f.name] = f.value.trim(); });
    list.cursors = [null];
    list.etag = null;
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    read();
    history.replaceState(null, "", `?${query({})}`);
    guarded(() => loadList(false));
  });
  read();
  guarded(() => loadList(false));
  poll(() => loadList(true));
}

// ---- one case ---------------------------------------------------------------------------------

const CHOICES = {
  void: { reason: ["invalid", "out_of_scope", "duplicate"] },
  return: { reason: ["wrong_area", "unclear_ownership", "not_our_duty", "insufficient_info", "other"] },
  dispose: { outcome: ["fixed", "not_responsible", "no_further_action", "referred", "cannot_fix", "other"] },
  close: { reason: ["resolved", "not_responsible", "no_further_action", "referred", "withdrawn", "other"] },
  feedback: { satisfaction: ["satisfied", "basically_satisfied", "unsatisfied"] },
  reopen: { reason: ["supervisor", "unresolved_feedback", "other"] },
};
const caseView = { etag: null, id: document.body.dataset.caseId, work: null };

function dl(rows) {
  const list = $("report");
  list.replaceChildren();
  rows.filter(([, v]) => v !== null && v !== undefined && v !== "").forEach(([label, value, key]) => {
    list.appendChild(el("dt", label));
    const dd = el("dd", null, { "data-key": key });
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = shown(value);
    list.appendChild(dd);
  });
}

function renderCase(found, work) {
  $("case-state").textContent = t(`s_${found.state}`, found.state);
  document.body.dataset.caseState = found.state;
  const reported = found.timeline.find((e) => e.type === "CaseReported") || {};
  const where = reported.location || {};
  let media = null;
  if (/^https?:\/\//i.test(reported.media_url || "")) {
    media = el("a", reported.media_url, { href: reported.media_url, rel: "noopener noreferrer", target: "_blank" });
  }
  dl([
    [t("description"), reported.description, "description"],
    [t("address"), where.address, "address"],
    [t("coordinates"), where.lat != null && where.lon != null ? `${where.lat}, ${where.lon}` : null, "coordinates"],
    [t("category"), found.category, "category"],
    [t("priority"), found.priority, "priority"],
    [t("channel"), found.channel, "channel"],
    [t("district"), [found.district, found.grid_id].filter(Boolean).join(" / "), "district"],
    [t("reported"), moment(found.reported_at), "reported_at"],
    [t("deadline"), found.due_at ? `${moment(found.due_at)} (${left(found.due_at)})` : null, "due_at"],
    [t("attributes"), reported.attributes ? Object.entries(reported.attributes)
      .map(([code, values]) => `${code}: ${[].concat(values).join(", ")}`).join(" · ") : null, "attributes"],
    [t("media"), media, "media_url"],
    [t("contact"), found.contact || null, "contact"],
  ]);
  $("tasks").tBodies[0].replaceChildren(...found.tasks.map((task) => {
    const tr = el("tr", null, { "data-task-id": task.task_id });
    [task.task_id, task.department, t(task.role, task.role), t(`ts_${task.status}`, task.status), moment(task.accept_by), moment(task.dispose_by),
      work.clocks && work.clocks[task.task_id] ? working(work.clocks[task.task_id].working_s_left, work.working_day_s) : "—",
      moment(task.accepted_at), moment(task.disposed_at)].forEach((v) => tr.appendChild(el("td", v)));
    return tr;
  }));
  $("timeline").replaceChildren(...found.timeline.map((e) => {
    const li = el("li", null, { "data-type": e.type });
    li.append(el("time", moment(e.occurred_at)), " ", el("strong", t(`e_${e.type}`, e.type), { title: e.type }), " ",
      el("span", e.actor ? `${e.actor.type} ${e.actor.id}` : "", { class: "actor" }), " ",
      el("span", Object.entries(e).filter(([k, v]) => !["type", "event_id", "case_id", "occurred_at", "recorded_at",
        "actor", "source", "schema_version"].includes(k) && v !== null && typeof v !== "object")
        .map(([k, v]) => `${k}: ${v}`).join(" · "), { class: "details" }));
    return li;
  }));
}

function renderMap(map) {
  const box = $("map");
  box.replaceChildren();
  if (!map) return;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `-4 -4 ${map.width + 8} ${map.height + 8}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("map"));
  map.districts.forEach((d) => {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d.path);
    path.setAttribute("class", d.own ? "district own" : "district");
    const title = document.createElementNS(ns, "title");
    title.textContent = d.name;
    path.appendChild(title);
    svg.appendChild(path);
  });
  if (map.point) {
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", map.point[0]);
    dot.setAttribute("cy", map.point[1]);
    dot.setAttribute("r", "4");
    dot.setAttribute("class", "point");
    svg.appendChild(dot);
  }
  box.appendChild(svg);
}

function renderSignals(signals) {
  $("signals").replaceChildren(...signals.map((s) =>
    el("li", `${moment(s.occurred_at)} ${s.type} · ${s.level} ${s.place} · ${s.category} · ${s.observed}/${s.threshold}`)));
  if (!signals.length) $("signals").appendChild(el("li", t("nothing"), { class: "muted" }));
}

function field(label, input) {
  const id = `${input.id}`;
  const wrap = el("div", null, { class: "field" });
  wrap.append(el("label", label, { for: id }), input);
  return wrap;
}

function select(id, values, chosen, labels) {
  const s = el("select", null, { id });
  values.forEach((v) => {
    const o = el("option", labels ? labels(v) : v, { value: v });
    if (v === chosen) o.selected = true;
    s.appendChild(o);
  });
  return s;
}

// The form of one allowed action: its fields and a submit button; the body it posts.
function actionForm(action, work) {
  const suffix = action.task_id || action.role || "";
  const id = `${action.action}${suffix ? "-" + suffix : ""}`;
  const form = el("form", null, { id: `form-${id}`, class: "action", "data-action": action.action });
  const fields = el("div", null, { class: "fields", hidden: "" });
  const title = action.task_id ? `${t(`a_${action.action}`)} · ${action.task_id} (${action.department})`
    : action.role ? `${t(`a_${action.action}`)} · ${t(action.role)}` : t(`a_${action.action}`);
  const open = el("button", title, { type: "button", id: `do-${id}`, "aria-expanded": "false", "aria-controls": `fields-${id}` });
  fields.id = `fields-${id}`;
  const body = () => ({});
  let build = body;
  const input = (name, type) => el("input", null, { id: `${id}-${name}`, name, type: type || "text" });
  const note = () => { const n = el("textarea", null, { id: `${id}-note`, rows: "2", maxlength: "4000" }); fields.appendChild(field(t("note"), n)); return n; };
  const choice = (name) => { const s = select(`${id}-${name}`, CHOICES[action.action][name]); fields.appendChild(field(t(name), s)); return s; };
  switch (action.action) {
    case "void": {
      const reason = choice("reason");
      const dup = el("select", null, { id: `${id}-duplicate_of` });
      dup.appendChild(el("option", "", { value: "" }));
      (work.duplicates || []).forEach((d) => dup.appendChild(el("option", `${d.case_id} (${d.distance_m} m)`, { value: d.case_id })));
      fields.appendChild(field(t("duplicate_of"), dup));
      const n = note();
      build = () => ({ reason: reason.value, duplicate_of: dup.value || null, note: n.value || null });
      break;
    }
    case "dispatch": {
      const names = work.departments.map((d) => d.name);
      const dept = select(`${id}-department`, names, work.routed_to,
        (n) => `${work.departments.find((d) => d.name === n).display_name} (${n})`);
      fields.appendChild(field(t("department"), dept));
      if (work.deadlines) {
        fields.appendChild(el("p", `${t("deadlines_apply")}: ${t("accept_by")} ${moment(work.deadlines.accept_by)}, ` +
          `${t("dispose_by")} ${moment(work.deadlines.dispose_by)}`, { class: "muted" }));
      }
      build = () => ({ department: dept.value, role: action.role });
      break;
    }
    case "accept": case "contact":
      build = () => ({ task_id: action.task_id });
      break;
    case "extend": {
      const when = input("new_dispose_by", "datetime-local");
      when.required = true;
      fields.appendChild(field(t("new_dispose_by"), when));
      build = () => ({ task_id: action.task_id, new_dispose_by: new Date(when.value).toISOString() });
      break;
    }
    case "return": {
      const reason = choice("reason");
      const n = note();
      build = () => ({ task_id: action.task_id, reason: reason.value, note: n.value || null });
      break;
    }
    case "dispose": {
      const outcome = choice("outcome");
      const n = note();
      const media = input("media_url", "url");
      fields.appendChild(field(t("media_url"), media));
      build = () => {
        const text = [n.value, media.value ? `${t("media_url")}: ${media.value}` : ""].filter(Boolean).join("\n");
        return { task_id: action.task_id, outcome: outcome.value, note: text || null };
      };
      break;
    }
    case "check": {
      const passed = select(`${id}-passed`, ["true", "false"], "true", (v) => (v === "true" ? t("passed") : t("failed")));
      fields.appendChild(field(t("a_check"), passed));
      const n = note();
      build = () => ({ passed: passed.value === "true", note: n.value || null });
      break;
    }
    case "close": { const reason = choice("reason"); build = () => ({ reason: reason.value }); break; }
    case "feedback": {
      const resolved = select(`${id}-resolved`, ["true", "false"], "true", (v) => (v === "true" ? t("resolved") : "—"));
      fields.appendChild(field(t("resolved"), resolved));
      const satisfaction = choice("satisfaction");
      // a return visit may ask for the reporter's stars and words: both optional
      const rating = select(`${id}-rating`, ["", "1", "2", "3", "4", "5"], "", (v) => v || "—");
      fields.appendChild(field(t("rating"), rating));
      const comment = el("textarea", null, { id: `${id}-comment`, rows: "3", maxlength: "4000" });
      fields.appendChild(field(t("comment"), comment));
      build = () => ({
        resolved: resolved.value === "true", satisfaction: satisfaction.value,
        rating: rating.value ? Number(rating.value) : null, comment: comment.value || null,
      });
      break;
    }
    case "reopen": { const reason = choice("reason"); build = () => ({ reason: reason.value }); break; }
    default: break;
  }
  const submit = el("button", t(`a_${action.action}`), { type: "submit", id: `submit-${id}`, class: "primary" });
  // what the API refused in this form, beside the fields it was about
  const refusal = el("p", null, { id: `refused-${id}`, class: "error", role: "alert", hidden: "" });
  fields.append(refusal, submit);
  open.addEventListener("click", () => {
    const shown = fields.hidden;
    fields.hidden = !shown;
    open.setAttribute("aria-expanded", String(shown));
    if (shown) (fields.querySelector("select, input, textarea, button") || submit).focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    take(action.action, build(), form);
  });
  form.append(open, fields);
  return form;
}

async function take(name, body, form) {
  const result = $("action-result");
  const refusal = form.querySelector("p.error");
  refusal.hidden = true;
  result.textContent = t("working");
  form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    await api(`cases/${encodeURIComponent(caseView.id)}/${name}`, { method: "POST", body });
    result.textContent = `${t(`a_${name}`)}: ${t("done")}`;
    result.className = "ok";
    caseView.etag = null;
    await loadCase(false, true);
  } catch (error) {
    form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    if (error instanceof KeyNeeded) askForKey(error.message, () => loadCase(false, true));
    else {
      result.className = "error";
      if (error instanceof Refused) {  // the API's words (a 400 names the field), in the form itself
        refusal.textContent = error.message;
        refusal.hidden = false;
        result.textContent = `${t(`a_${name}`)}: ${t("refused")}`;  // said once, where it belongs
      } else result.textContent = `${t("error")}: ${error.message}`;
    }
  }
}

function editing() {
  return Array.from(document.querySelectorAll("#actions .fields")).some((f) => !f.hidden);
}

function renderActions(work, force) {
  if (!force && editing()) return;  // a half-filled form stays as it is
  $("actions").replaceChildren(...work.actions.map((a) => actionForm(a, work)));
  $("no-actions").hidden = work.actions.length > 0;
  document.body.dataset.actions = work.actions.map((a) => a.action + (a.task_id ? ":" + a.task_id : a.role ? ":" + a.role : "")).join(" ");
}

async function loadCase(conditional, force) {
  const id = encodeURIComponent(caseView.id);
  const work = await api(`cases/${id}/actions`, { etag: conditional ? caseView.etag : null });
  if (work === null) return;
  caseView.etag = work.etag;
  const found = (await api(`cases/${id}`)).data;
  who(work.data.role, work.data.department);
  renderCase(found, work.data);
  renderMap(work.data.map);
  renderSignals(work.data.signals || []);
  renderActions(work.data, force);
  document.body.dataset.state = "ready";
  document.body.dataset.events = String(found.timeline.length);
}

function casePage() {
  guarded(() => loadCase(false, true));
  setInterval(() => {
    if (document.hidden || !sessionStorage.getItem(KEY)) return;
    loadCase(true, false).catch((error) => showError(error.message));
  }, POLL_MS);
}

if (page === "queues") queuesPage();
else if (page === "search") searchPage();
else if (page === "case") casePage();
