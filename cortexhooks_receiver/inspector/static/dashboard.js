// The emulator's dashboard: a client of the emulator's own API, with its bearer token.
// Every value from the API (URLs, event names, errors, payloads) is inserted as text.
"use strict";

const REFRESH_MS = 1500;
const TOKEN_KEY = "cortexhooks-emulator-token";
const dash = {about: {}, catalog: [], timer: null};
const byId = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function api(method, path, body) {
  const headers = {Authorization: `Bearer ${token()}`, Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body)});
  const value = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const error = new Error(value.message || `${answer.status}`);
    error.status = answer.status;
    throw error;
  }
  return value;
}

function when(ms) {
  if (!ms) return "—";
  return new Date(ms).toLocaleTimeString([], {hour12: false});
}

function stateOf(hook) {
  if (hook.active) return ["active", "active", hook.consecutiveFailures ? `${hook.consecutiveFailures} consecutive failure(s)` : ""];
  const limit = dash.about.autoDisableAfter || 10;
  if (hook.consecutiveFailures >= limit) {
    return ["disabled", "auto-disabled", `after ${hook.consecutiveFailures} consecutive failed deliveries (the limit is ${limit}); fix the endpoint, then re-activate`];
  }
  return ["disabled", "inactive", "deactivated through the API (PUT active: false)"];
}

function webhookRow(hook) {
  const [kind, label, reason] = stateOf(hook);
  const result = el("span", {className: "muted", role: "status", dataset: {result: hook.id}});
  return el("tr", {dataset: {id: hook.id, state: label}},
    el("td", {className: "mono"}, hook.url, el("br"), el("small", {className: "muted"}, hook.id)),
    el("td", {}, hook.events.join(", ")),
    el("td", {}, el("span", {className: `badge ${kind}`}, label), reason ? el("br") : null, reason ? el("small", {className: "reason"}, reason) : null),
    el("td", {className: "buttons"},
      el("button", {type: "button", className: "send-test", dataset: {key: `test:${hook.id}`}, onclick: () => sendTest(hook.id, result)}, "Send webhook.test"),
      hook.active ? null : el("button", {type: "button", className: "reactivate", dataset: {key: `on:${hook.id}`}, onclick: () => reactivate(hook.id, result)}, "Re-activate"),
      result));
}

function attemptsList(delivery) {
  return el("ol", {className: "attempts"},
    delivery.attempts.map((a) => el("li", {dataset: {outcome: a.outcome}},
      `#${a.number} at ${when(a.timestamp)}: ${a.outcome}`,
      a.status ? ` (HTTP ${a.status})` : "",
      a.error && a.error !== `HTTP ${a.status}` ? `: ${a.error}` : "",
      a.replay ? " [replay]" : "")));
}

function badgeOf(state) {
  if (state === "delivered") return "active";
  return state === "failed" || state === "disabled" ? "failed" : "pending";
}

function deliveryCard(hook, delivery) {
  const next = delivery.nextAttemptAt ? `next retry at ${when(delivery.nextAttemptAt)}` : "no retry scheduled";
  return el("article", {className: "card delivery", dataset: {id: delivery.deliveryId, state: delivery.state}},
    el("h3", {}, delivery.event, " ", el("span", {className: `badge ${badgeOf(delivery.state)}`}, delivery.state)),
    el("p", {className: "muted"}, el("code", {}, delivery.deliveryId), ` to ${hook.url} · `, el("span", {className: "next"}, next)),
    attemptsList(delivery));
}

async function refresh() {
  try {
    const {webhooks} = await api("GET", "/api/webhooks");
    const logs = [];
    for (const hook of webhooks) {
      const {deliveries} = await api("GET", `/api/webhooks/${encodeURIComponent(hook.id)}/deliveries`);
      logs.push(deliveries);
    }
    const seen = JSON.stringify([webhooks, logs]);
    if (seen !== dash.seen) {  // redraw only what changed: focus and results stay put otherwise
      dash.seen = seen;
      draw(webhooks, logs);
    }
    document.body.dataset.refreshed = String(Date.now());
  } catch (error) {
    if (error.status === 401) return signOut("The token was refused.");
    say(byId("status"), `The emulator is not answering: ${error.message}`);
  }
  dash.timer = setTimeout(refresh, REFRESH_MS);
}

function draw(webhooks, logs) {
  const focused = document.activeElement;
  const focusKey = focused && focused.dataset ? focused.dataset.key : null;
  const rows = byId("webhook-rows");
  const results = new Map([...rows.querySelectorAll("[data-result]")].map((n) => [n.dataset.result, n.textContent]));
  clear(rows);
  webhooks.forEach((hook) => rows.append(webhookRow(hook)));
  for (const node of rows.querySelectorAll("[data-result]")) node.textContent = results.get(node.dataset.result) || "";
  byId("no-webhooks").hidden = webhooks.length > 0;
  byId("webhook-count").textContent = webhooks.length ? `(${webhooks.length})` : "";
  const cards = [];
  webhooks.forEach((hook, i) => logs[i].forEach((d) => cards.push([d.createdAt, deliveryCard(hook, d)])));
  const list = byId("deliveries");
  clear(list);
  cards.sort((a, b) => b[0] - a[0]).slice(0, 100).forEach(([, card]) => list.append(card));
  if (!cards.length) list.append(el("p", {className: "muted"}, "No delivery yet: emit an event."));
  if (focusKey) {
    const again = document.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
    if (again) again.focus();
  }
}

async function sendTest(id, result) {
  result.textContent = "Sending…";
  try {
    const answer = await api("POST", `/api/webhooks/${encodeURIComponent(id)}/test`);
    result.textContent = answer.success
      ? `webhook.test delivered (HTTP ${answer.status})`
      : `webhook.test failed: ${answer.status ? `HTTP ${answer.status}` : answer.error || "no answer"}`;
    result.dataset.done = "1";
  } catch (error) {
    result.textContent = `Failed: ${error.message}`;
    result.dataset.done = "1";
  }
}

async function reactivate(id, result) {
  try {
    await api("PUT", `/api/webhooks/${encodeURIComponent(id)}`, {active: true});
    result.textContent = "Re-activated.";
    clearTimeout(dash.timer);
    refresh();
  } catch (error) {
    result.textContent = `Failed: ${error.message}`;
  }
}

function showSample() {
  const spec = dash.catalog.find((s) => s.name === byId("emit-event").value);
  byId("emit-data").value = spec ? JSON.stringify(spec.sample, null, 2) : "{}";
}

async function emit(ev) {
  ev.preventDefault();
  const result = byId("emit-result");
  let data;
  try {
    data = JSON.parse(byId("emit-data").value);
  } catch (error) {
    result.textContent = `The payload is not JSON: ${error.message}`;
    return;
  }
  try {
    const answer = await api("POST", "/api/events", {event: byId("emit-event").value, data});
    result.textContent = `Emitted ${answer.event}: ${answer.deliveries.length} delivery(ies) queued.`;
    result.dataset.count = String(answer.deliveries.length);
  } catch (error) {
    result.textContent = `Not emitted: ${error.message}`;
  }
}

async function start() {
  byId("login-error").textContent = "";
  try {
    const {events} = await api("GET", "/api/events");
    dash.catalog = events;
  } catch (error) {
    return signOut(error.status === 401 ? "The token was refused." : `Cannot reach the emulator: ${error.message}`);
  }
  const select = byId("emit-event");
  clear(select);
  dash.catalog.forEach((spec) => select.append(el("option", {value: spec.name}, `${spec.name} — ${spec.description}`)));
  showSample();
  byId("login").hidden = true;
  byId("webhooks-section").hidden = false;
  byId("emit-section").hidden = false;
  byId("forget").hidden = false;
  refresh();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(dash.timer);
  byId("login").hidden = false;
  byId("webhooks-section").hidden = true;
  byId("emit-section").hidden = true;
  byId("forget").hidden = true;
  byId("login-error").textContent = message || "";
  byId("token").focus();
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    const about = await fetch("/", {headers: {Accept: "application/json"}, cache: "no-store"});
    dash.about = await about.json();
    const schedule = (dash.about.retrySchedule || []).map((s) => `${s} s`).join(", ");
    byId("about").textContent = `Retry schedule ${schedule} (time scale ×${dash.about.timeScale}); a webhook is disabled after ${dash.about.autoDisableAfter} consecutive failures.`;
  } catch (_) { /* the page still works without it */ }
  byId("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, byId("token").value.trim());
    start();
  });
  byId("forget").addEventListener("click", () => signOut(""));
  byId("emit-event").addEventListener("change", showSample);
  byId("emit").addEventListener("submit", emit);
  if (token()) start();
  else byId("token").focus();
});
