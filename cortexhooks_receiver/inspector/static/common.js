// Shared by the inspector and the dashboard. Every value that comes from a request or a payload
// is inserted with textContent (through el()), never as markup: payloads are attacker-controlled.
"use strict";

/** Make an element: el("td", {className: "x"}, "text", child, ...). Strings become text nodes. */
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Remove every child of node. */
function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** Pretty-print a JSON text (unchanged when it is not JSON). */
function pretty(text) {
  if (text === null || text === undefined) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text;
  }
}

/** The local time of an ISO date, HH:MM:SS. */
function clock(iso) {
  const date = new Date(iso);
  return isNaN(date) ? String(iso) : date.toLocaleTimeString([], {hour12: false});
}

/** Copy text to the clipboard; fall back to selecting the textarea showing it. */
async function copyText(text, area, status) {
  area.value = text;
  try {
    await navigator.clipboard.writeText(text);
    say(status, "Copied to the clipboard.");
  } catch (_) {
    area.focus();
    area.select();
    say(status, "Selected: press Ctrl+C (or ⌘C) to copy.");
  }
}

/** Show a short message in the status line. */
function say(status, text) {
  if (status) status.textContent = text;
}
