// Shared by the dashboard and the case page: the API key, fetching figures, formatting.
// The key lives in this tab's sessionStorage only and goes out as X-API-Key, to this server.
"use strict";

const civicloop = (() => {
  const KEY = "civicloop.apiKey";
  const base = () => document.body.dataset.base;

  class KeyNeeded extends Error {}

  async function getJson(path, params) {
    const query = params ? "?" + new URLSearchParams(params).toString() : "";
    const key = sessionStorage.getItem(KEY);
    if (!key) throw new KeyNeeded("no key yet");
    const response = await fetch(`${base()}/api/${path}${query}`, { headers: { "X-API-Key": key } });
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY);
      throw new KeyNeeded(await message(response));
    }
    if (!response.ok) throw new Error(`${path}: ${await message(response)}`);
    return response.json();
  }

  async function message(response) {
    try {
      const body = await response.json();
      if (body.errors) return body.errors.map((e) => e.description).join("; ");
      if (body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch (ignored) { /* not JSON */ }
    return `HTTP ${response.status}`;
  }

  // Ask for the key, then run `then` (again) with it.
  function askForKey(reason, then) {
    const dialog = document.getElementById("key-dialog");
    document.getElementById("key-error").textContent = reason && reason !== "no key yet" ? reason : "";
    document.getElementById("key-form").onsubmit = () => {
      sessionStorage.setItem(KEY, document.getElementById("api-key").value.trim());
      then();
    };
    if (!dialog.open) dialog.showModal();
  }

  function rate(value) {
    return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
  }

  function count(value) {
    return value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US");
  }

  function moment(text) {
    return text ? text.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC") : "—";
  }

  // Control and bidi characters in text an older revision of the event contract accepted
  // (docs/TRUST.md §1) are shown as their code points: `refund \u202e001$` cannot read `refund $100`.
  const HIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

  function shown(text) {
    return String(text).replace(HIDDEN, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
  }

  function cell(row, text, attrs) {
    const td = document.createElement("td");
    td.textContent = shown(text);
    Object.entries(attrs || {}).forEach(([k, v]) => td.setAttribute(k, v));
    row.appendChild(td);
    return td;
  }

  function header(table, labels) {
    const tr = document.createElement("tr");
    labels.forEach((label) => {
      const th = document.createElement("th");
      th.textContent = label;
      tr.appendChild(th);
    });
    table.tHead.replaceChildren(tr);
  }

  function showError(text) {
    const el = document.getElementById("error");
    el.textContent = text;
    el.hidden = !text;
  }

  // What a page shows when loading it failed: the key form when a key is needed (then `retry`
  // with it), else the error.
  function failed(error, retry) {
    if (error instanceof KeyNeeded) {
      document.body.dataset.state = "key";
      askForKey(error.message, retry);
    } else {
      document.body.dataset.state = "error";
      showError(error.message);
    }
  }

  return { KeyNeeded, getJson, askForKey, failed, rate, count, moment, shown, cell, header, showError, base };
})();
