// Differential oracle for cortexhooks_receiver.sender.jsonjs: one JSON line in, JSON.stringify out.
//
// Input values travel in a tagged form so that every JavaScript value the Python side means can be
// rebuilt exactly (key order, NaN/Infinity, "__proto__" keys):
//   {"t":"o","v":[[key, value], ...]}  an object built by defining the keys in this order
//   {"t":"a","v":[value, ...]}         an array
//   {"t":"n","v":"NaN"|"Infinity"|"-Infinity"}  a non-finite number
//   any other JSON scalar              itself (JSON.parse keeps lone-surrogate escapes)
// One output line per input line: the JSON.stringify text (never contains a raw newline).
"use strict";
const readline = require("readline");

function build(node) {
  if (node === null || typeof node !== "object") return node;
  if (node.t === "a") return node.v.map(build);
  if (node.t === "n") return Number(node.v);
  const obj = {};
  for (const [key, value] of node.v) {
    Object.defineProperty(obj, key, {
      value: build(value), enumerable: true, writable: true, configurable: true,
    });
  }
  return obj;
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  let out;
  try {
    out = JSON.stringify(build(JSON.parse(line)));
  } catch (err) {
    out = "!error " + String(err && err.message);
  }
  process.stdout.write(out + "\n");
});
