// The inspector of `cortexhooks listen`: polls the session for new requests and shows one in
// detail. Plain DOM, no framework, no network access beyond this page's own origin.
"use strict";

const API = "/_inspector/api";
const POLL_MS = 1000;
const ACTION_HEADER = "X-Cortexhooks-Inspector";

const state = {lastId: 0, entries: new Map(), events: new Set(), selected: null, info: {}};
const $ = (id) => document.getElementById(id);

function outcomeOf(entry) {
  if (entry.code) return "refused";
  return entry.duplicate ? "duplicate" : "accepted";
}

function answerText(entry) {
  return `${entry.status} ${entry.code || (entry.duplicate ? "duplicate" : "ok")}`;
}

function diagnosisText(entry) {
  if (!entry.code) return entry.resentFrom ? `re-sent from #${entry.resentFrom}` : "";
  return entry.message ? `${entry.problem}: ${entry.message}` : entry.problem || entry.code;
}

function row(entry) {
  const outcome = outcomeOf(entry);
  const tr = el(
    "tr",
    {tabindex: "0", className: `row ${outcome}`, dataset: {id: entry.id, outcome: outcome, event: entry.event || ""},
     "aria-selected": "false",
     onclick: () => select(entry.id),
     onkeydown: (ev) => rowKey(ev, tr)},
    el("td", {className: "time"}, el("time", {datetime: entry.receivedAt}, clock(entry.receivedAt))),
    el("td", {className: "event"}, entry.event || "—"),
    el("td", {className: "delivery mono"}, entry.deliveryId || "—"),
    el("td", {className: "answer"}, el("span", {className: `badge ${outcome}`}, answerText(entry))),
    el("td", {className: "diagnosis"}, diagnosisText(entry)),
  );
  return tr;
}

function rowKey(ev, tr) {
  const visible = [...$("rows").querySelectorAll("tr:not([hidden])")];
  const at = visible.indexOf(tr);
  let next = null;
  if (ev.key === "ArrowDown") next = visible[at + 1];
  else if (ev.key === "ArrowUp") next = visible[at - 1];
  else if (ev.key === "Home") next = visible[0];
  else if (ev.key === "End") next = visible[visible.length - 1];
  else if (ev.key === "Enter" || ev.key === " ") {
    ev.preventDefault();
    select(Number(tr.dataset.id));
    return;
  } else return;
  ev.preventDefault();
  if (next) next.focus();
}

function applyFilters() {
  const event = $("filter-event").value;
  const outcome = $("filter-outcome").value;
  let shown = 0;
  for (const tr of $("rows").children) {
    const hide = (event && tr.dataset.event !== event) || (outcome && tr.dataset.outcome !== outcome);
    tr.hidden = Boolean(hide);
    if (!hide) shown += 1;
  }
  const total = $("rows").children.length;
  $("count").textContent = total ? `(${shown} of ${total})` : "";
  $("empty").hidden = total > 0;
}

function addEventOption(name) {
  if (!name || state.events.has(name)) return;
  state.events.add(name);
  const select = $("filter-event");
  const options = [...select.options].slice(1);
  const before = options.find((option) => option.value > name) || null;
  select.insertBefore(el("option", {value: name}, name), before);
}

async function poll() {
  try {
    const answer = await fetch(`${API}/entries?after=${state.lastId}`, {cache: "no-store"});
    if (answer.ok) {
      const {entries} = await answer.json();
      const rows = $("rows");
      for (const entry of entries.slice().reverse()) {  // oldest first, each on top
        if (state.entries.has(entry.id)) continue;
        state.entries.set(entry.id, entry);
        state.lastId = Math.max(state.lastId, entry.id);
        addEventOption(entry.event);
        rows.insertBefore(row(entry), rows.firstChild);
      }
      if (entries.length) applyFilters();
      document.body.dataset.polled = String(state.lastId);
    }
  } catch (_) {
    say($("status"), "The listener is not answering; retrying.");
  }
  setTimeout(poll, POLL_MS);
}

async function loadInfo() {
  const answer = await fetch(`${API}/info`, {cache: "no-store"});
  const info = (state.info = await answer.json());
  const where = $("where");
  clear(where);
  if (info.webhookUrl) where.append("Webhook URL ", el("code", {}, info.webhookUrl));
  else where.append("Showing a saved session (no webhook endpoint: start listen with a secret to receive)");
  if (info.forwardTo) where.append(" · forwarding to ", el("code", {}, info.forwardTo));
  if (info.source) where.append(" · loaded from ", el("code", {}, info.source));
  where.append(" · nothing leaves this machine");
}

function section(title, ...children) {
  return el("section", {className: "card"}, el("h3", {}, title), ...children);
}

function definitions(pairs) {
  return el("dl", {className: "facts"},
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

function checksList(checks) {
  return el("ol", {id: "checks", className: "checks"},
    checks.map((check) => {
      const kind = check.ok === true ? "pass" : check.ok === false ? "fail" : "skip";
      const mark = {pass: "✓ passed", fail: "✗ failed", skip: "– not reached"}[kind];
      return el("li", {className: kind, dataset: {ok: kind}},
        el("span", {className: "mark"}, mark), " ", el("strong", {}, check.name), ": ", check.detail);
    }));
}

function table(headings, rows, id) {
  return el("div", {className: "table-wrap"},
    el("table", {id: id},
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", {scope: "col"}, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c, i) => el("td", {className: i === 0 ? "mono" : ""}, c)))))));
}

async function select(id) {
  state.selected = id;
  for (const tr of $("rows").children) tr.setAttribute("aria-selected", String(Number(tr.dataset.id) === id));
  const answer = await fetch(`${API}/entries/${id}`, {cache: "no-store"});
  if (!answer.ok) {
    say($("status"), "That request is no longer in the session.");
    return;
  }
  render(await answer.json());
}

function render(detail) {
  const entry = detail.entry;
  const pane = $("detail");
  clear(pane);
  const outcome = outcomeOf(entry);
  pane.append(el("h2", {id: "detail-title"}, `#${entry.id} `, entry.event || "no event", " ",
    el("span", {className: `badge ${outcome}`}, answerText(entry))));

  pane.append(definitions([
    ["Received", new Date(entry.receivedAt).toLocaleString()],
    ["Event", entry.event],
    ["Typed as", entry.eventClass],
    ["Delivery id", entry.deliveryId],
    ["Webhook id", entry.webhookId],
    ["Outcome", outcome === "refused" ? `refused: ${entry.code}` : outcome === "duplicate" ? "duplicate: already processed, nothing ran again" : "accepted"],
    ["Forwarded to", entry.forwardedTo],
    ["Re-sent from", entry.resentFrom ? `#${entry.resentFrom}` : null],
  ]));

  if (entry.code) {
    pane.append(section("Diagnosis",
      el("p", {className: "problem"}, el("code", {id: "detail-problem"}, entry.problem || entry.code)),
      el("p", {id: "detail-message", className: "message"}, entry.message || ""),
      entry.findings.length ? el("ul", {id: "findings"}, entry.findings.map((f) => el("li", {}, f))) : null));
  } else if (entry.findings.length) {
    pane.append(section("Findings", el("ul", {id: "findings"}, entry.findings.map((f) => el("li", {}, f)))));
  }

  if (entry.checks.length) {
    pane.append(section("Signature check, step by step",
      el("p", {className: "muted"}, "In the receiver's order. Only whether the signature matched, and which secret did, is shown: never a secret or an expected signature."),
      checksList(entry.checks)));
  }

  pane.append(section("Answer sent",
    el("p", {}, el("strong", {id: "answer-status"}, String(entry.status))),
    el("pre", {id: "answer", className: "code"}, pretty(entry.answer))));

  pane.append(actions(entry, detail));

  pane.append(section("Headers", entry.headers.length
    ? table(["Name", "Value"], entry.headers, "headers")
    : el("p", {className: "muted"}, "Not recorded.")));

  pane.append(section("Body", entry.body === null
    ? el("p", {className: "muted"}, "Not kept (the request was refused before its body was read).")
    : el("pre", {id: "body", className: "code"}, pretty(entry.body))));

  if (entry.fields.length) {
    pane.append(section(`Typed fields (${entry.eventClass})`,
      table(["Field", "Type", "Value"], entry.fields.map((f) => [f.path, f.type, f.value]), "fields")));
  }
  pane.dataset.id = String(entry.id);
  pane.focus({preventScroll: true});
  pane.scrollTop = 0;
}

function actions(entry, detail) {
  const output = el("textarea", {id: "snippet", readonly: true, rows: "8", "aria-label": "Copied text", spellcheck: "false"});
  const status = el("p", {id: "action-result", role: "status"});
  const buttons = el("div", {className: "buttons"});
  if (detail.canResend) {
    buttons.append(el("button", {type: "button", id: "resend", onclick: () => resend(entry.id, status)},
      "Re-send to the app"));
  } else if (!state.info.forwardTo) {
    buttons.append(el("button", {type: "button", id: "resend", disabled: true, title: "start listen with --forward-to URL"},
      "Re-send (needs --forward-to)"));
  }
  buttons.append(
    el("button", {type: "button", id: "copy-curl", onclick: () => copyText(detail.curl, output, status)}, "Copy as curl"),
    el("button", {type: "button", id: "copy-pytest", onclick: () => copyText(detail.pytest, output, status)}, "Copy as pytest test"),
  );
  return section("Actions", buttons, status, output);
}

async function resend(id, status) {
  say(status, "Re-sending…");
  try {
    const answer = await fetch(`${API}/entries/${id}/resend`, {method: "POST", headers: {[ACTION_HEADER]: "1"}});
    const result = await answer.json();
    if (!answer.ok) {
      say(status, `Not re-sent: ${result.message}`);
      return;
    }
    const entry = result.entry;
    say(status, `Re-sent as #${entry.id}: the app answered ${entry.status} ${entry.answer}`);
    status.dataset.resent = String(entry.id);
  } catch (error) {
    say(status, `Not re-sent: ${error}`);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("filter-event").addEventListener("change", applyFilters);
  $("filter-outcome").addEventListener("change", applyFilters);
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());
  loadInfo().catch(() => say($("status"), "Cannot reach the listener."));
  applyFilters();
  poll();
});
