// Render LaTeX strings with KaTeX, one node process for all of them.
//
// usage: node katex_render.js KATEX_DIR < strings.json > results.json
//
// KATEX_DIR is a folder holding node_modules/katex. stdin is a JSON list of
// LaTeX strings; stdout is a JSON list, one {"ok": bool, "error": string|null,
// "warnings": [string]} per string, in order. Strings are rendered in display
// mode with throwOnError; KaTeX's strict-mode complaints (e.g. Unicode text in
// math mode) are collected as warnings instead of being printed.
"use strict";

const path = require("path");

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: node katex_render.js KATEX_DIR < strings.json\n");
  process.exit(2);
}
const katex = require(path.join(path.resolve(dir), "node_modules", "katex"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const strings = JSON.parse(input);
  const results = strings.map((s) => {
    const warnings = [];
    const strict = (code, message) => {
      warnings.push(`${code}: ${message}`);
      return "ignore";
    };
    try {
      katex.renderToString(s, { throwOnError: true, displayMode: true, strict });
      return { ok: true, error: null, warnings };
    } catch (e) {
      return { ok: false, error: String(e && e.message ? e.message : e), warnings };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
