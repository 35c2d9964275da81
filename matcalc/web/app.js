// matcalc's local page: edit a model, derive, check, export. Talks only to this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { examples: [], code: "", timer: null, lastVariables: "", ticket: 0 };

function convention() {
  return document.querySelector('input[name="convention"]:checked').value;
}

function wrtList() {
  return $("wrt").value.split(",").map((s) => s.trim()).filter(Boolean);
}

async function post(endpoint, payload) {
  const response = await fetch("/api/" + endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
  let data;
  try {
    data = await response.json();
  } catch (e) {
    data = { error: { message: "the server answered " + response.status, line: null, column: null } };
  }
  return { ok: response.ok, status: response.status, data };
}

function request() {
  const body = {
    model: $("model").value,
    wrt: wrtList(),
    kind: $("kind").value,
    layout: $("layout").value,
    target: $("target").value,
    convention: convention(),
  };
  if ($("of").value) body.of = $("of").value;
  return body;
}

// ------------------------------------------------------------------ the editor

function renderGutter(badLine) {
  const lines = $("model").value.split("\n").length;
  const gutter = $("gutter");
  gutter.textContent = "";
  for (let i = 1; i <= lines; i++) {
    const span = document.createElement("span");
    span.textContent = String(i);
    if (i === badLine) span.className = "bad";
    gutter.appendChild(span);
    gutter.appendChild(document.createTextNode("\n"));
  }
  gutter.scrollTop = $("model").scrollTop;
}

function offsetOf(text, line, column) {
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  return Math.min(text.length, offset + Math.max(0, column - 1));
}

function showError(error, focus) {
  const box = $("error");
  box.hidden = false;
  box.textContent = error.text || error.message;
  box.dataset.line = error.line == null ? "" : String(error.line);
  box.dataset.column = error.column == null ? "" : String(error.column);
  renderGutter(error.line);
  if (focus && error.line != null && error.column != null) {
    const model = $("model");
    const text = model.value;
    // columns count characters (code points) of the line
    const lineText = text.split("\n")[error.line - 1] || "";
    const units = (n) => Array.from(lineText).slice(0, n).join("").length;
    const start = offsetOf(text, error.line, units(error.column - 1) + 1);
    const endColumn = error.end_column && error.end_column > error.column ? error.end_column : error.column + 1;
    const end = offsetOf(text, error.line, units(endColumn - 1) + 1);
    model.focus();
    model.setSelectionRange(start, Math.max(start + 1, end));
  }
}

function clearError() {
  const box = $("error");
  box.hidden = true;
  box.textContent = "";
  box.dataset.line = "";
  box.dataset.column = "";
  renderGutter(null);
}

// ------------------------------------------------------------------ variables

function renderVariables(data) {
  const chips = $("variables");
  chips.textContent = "";
  const chosen = new Set(wrtList());
  const of = $("of");
  const previous = of.value;
  of.textContent = "";
  for (const v of data.variables) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip" + (chosen.has(v.name) ? " on" : "");
    chip.dataset.name = v.name;
    chip.title = v.role + ", " + v.kind + ", " + v.shape;
    chip.append(v.name + " ");
    const small = document.createElement("small");
    small.textContent = v.shape;
    chip.appendChild(small);
    chip.addEventListener("click", () => toggleWrt(v.name));
    chips.appendChild(chip);
    if (v.role === "definition" && v.shape === "1×1") {
      const option = document.createElement("option");
      option.value = v.name;
      option.textContent = v.name;
      of.appendChild(option);
    }
  }
  of.value = [...of.options].some((o) => o.value === previous) ? previous : data.output;
  if (!wrtList().length) {
    const inputs = data.variables.filter((v) => v.role === "input");
    const first = inputs.find((v) => v.kind.startsWith("matrix")) || inputs[0];
    if (first) toggleWrt(first.name);
  }
}

function toggleWrt(name) {
  const names = wrtList();
  const i = names.indexOf(name);
  if (i >= 0) names.splice(i, 1);
  else names.push(name);
  $("wrt").value = names.join(", ");
  for (const chip of $("variables").children) chip.classList.toggle("on", names.includes(chip.dataset.name));
}

async function refreshVariables() {
  const key = convention() + "\u0000" + $("model").value;
  if (key === state.lastVariables) return;
  state.lastVariables = key;
  const { ok, data } = await post("variables", { model: $("model").value, convention: convention() });
  if (key !== state.lastVariables) return; // the model changed while the server answered
  if (ok) {
    clearError();
    renderVariables(data);
  } else {
    showError(data.error, false);
    $("variables").textContent = ""; // the names of a model that no longer parses would mislead
  }
}

function variablesSoon() {
  clearTimeout(state.timer);
  state.timer = setTimeout(refreshVariables, 300);
}

// ------------------------------------------------------------------ results

function typeset(latex, element) {
  if (window.katex) {
    katex.render(latex, element, { displayMode: true, throwOnError: false, strict: "ignore" });
  } else {
    element.textContent = latex;
  }
}

function busy(on, what) {
  $("derive").disabled = on;
  $("check").disabled = on;
  $("status").textContent = on ? what : "";
}

function showResult(data) {
  $("placeholder").hidden = true;
  typeset(data.latex, $("result"));
  $("result-text").textContent = data.text;
  typeset(data.steps_latex, $("steps"));
  $("steps-box").hidden = false;
  $("code-box").hidden = false;
  $("code").textContent = data.code;
  $("code").hidden = !data.code;
  $("code-error").textContent = data.code_error ? "No " + $("target").selectedOptions[0].textContent +
    " code for this model: " + data.code_error : "";
  $("code-error").hidden = !data.code_error;
  state.code = data.code;
  state.of = data.of;
  state.target = data.target;
  $("copy").disabled = $("download").disabled = !data.code;
}

function clearResult(why) {
  $("placeholder").hidden = false;
  if (why) $("placeholder").textContent = why;
  for (const id of ["result", "result-text", "steps", "code", "checked", "code-error"]) $(id).textContent = "";
  $("steps-box").hidden = true;
  $("code-box").hidden = true;
  state.code = "";
  $("copy").disabled = $("download").disabled = true;
}

async function derive() {
  const ticket = ++state.ticket;
  busy(true, "deriving…");
  $("checked").textContent = "";
  delete $("checked").dataset.ok;
  try {
    const { ok, data } = await post("derive", request());
    if (ticket !== state.ticket) return; // a newer request was made meanwhile: its answer counts
    if (!ok) {
      showError(data.error, true);
      const at = data.error.line == null ? "" : " (line " + data.error.line + ", column " + data.error.column + ")";
      clearResult("No result: see the message under the editor" + at + ".");
      document.body.dataset.state = "error";
      return;
    }
    clearError();
    showResult(data);
    document.body.dataset.state = "derived";
  } catch (e) {
    showError({ message: "cannot reach the matcalc server: " + e, line: null, column: null }, false);
  } finally {
    if (ticket === state.ticket) busy(false);
  }
}

async function checkNumerically() {
  const ticket = ++state.ticket;
  busy(true, "checking against central differences…");
  try {
    const { ok, data } = await post("check", request());
    if (ticket !== state.ticket) return;
    const box = $("checked");
    box.textContent = "";
    if (!ok) {
      showError(data.error, true);
      return;
    }
    const table = document.createElement("table");
    const head = table.insertRow();
    for (const h of ["gradient", "relative error vs central differences", ""]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    }
    data.names.forEach((name, i) => {
      const row = table.insertRow();
      row.insertCell().textContent = "∂" + data.of + "/∂" + name;
      row.insertCell().textContent = data.errors[i].toExponential(2);
      const verdict = row.insertCell();
      const good = data.errors[i] <= data.tolerance;
      verdict.textContent = good ? "ok" : "MISMATCH";
      verdict.className = good ? "ok" : "mismatch";
    });
    box.appendChild(table);
    box.dataset.ok = String(data.ok);
  } catch (e) {
    showError({ message: "cannot reach the matcalc server: " + e, line: null, column: null }, false);
  } finally {
    if (ticket === state.ticket) busy(false);
  }
}

async function copyCode() {
  try {
    await navigator.clipboard.writeText(state.code);
    $("status").textContent = "code copied";
  } catch (e) {
    const range = document.createRange();
    range.selectNodeContents($("code"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    $("status").textContent = "code selected: press Ctrl-C to copy";
  }
}

function downloadCode() {
  const blob = new Blob([state.code], { type: "text/x-python" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  const suffix = !state.target || state.target === "numpy" ? "" : "_" + state.target.replace("-", "_");
  link.download = "grad_" + (state.of || "f") + suffix + ".py";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// ------------------------------------------------------------------ start

function loadExample(name) {
  const example = state.examples.find((e) => e.name === name);
  if (!example) return;
  $("model").value = example.text;
  $("wrt").value = "";
  document.querySelector(`input[name="convention"][value="${example.convention}"]`).checked = true;
  state.lastVariables = "";
  clearError();
  return refreshVariables();
}

async function start() {
  const response = await fetch("/api/examples");
  state.examples = (await response.json()).examples;
  const select = $("example");
  for (const e of state.examples) {
    const option = document.createElement("option");
    option.value = e.name;
    option.textContent = e.title;
    select.appendChild(option);
  }
  select.addEventListener("change", async () => { await loadExample(select.value); await derive(); });
  $("model").addEventListener("input", () => { renderGutter(null); variablesSoon(); });
  $("model").addEventListener("scroll", () => { $("gutter").scrollTop = $("model").scrollTop; });
  $("wrt").addEventListener("input", () => {
    const names = wrtList();
    for (const chip of $("variables").children) chip.classList.toggle("on", names.includes(chip.dataset.name));
  });
  $("wrt").addEventListener("keydown", (e) => { if (e.key === "Enter") derive(); });
  $("model").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) derive(); });
  for (const radio of document.querySelectorAll('input[name="convention"]')) radio.addEventListener("change", variablesSoon);
  $("derive").addEventListener("click", derive);
  for (const id of ["target", "layout", "of"]) {
    // a shown result follows its settings
    $(id).addEventListener("change", () => { if (document.body.dataset.state === "derived") derive(); });
  }
  $("check").addEventListener("click", checkNumerically);
  $("copy").addEventListener("click", copyCode);
  $("download").addEventListener("click", downloadCode);
  if (state.examples.length) {
    select.value = state.examples[0].name;
    await loadExample(state.examples[0].name);
  }
  const params = new URLSearchParams(location.search);
  if (params.has("model")) {
    $("model").value = params.get("model");
    $("wrt").value = "";
    if (params.get("convention") === "matrixcalculus") document.querySelector('input[value="matrixcalculus"]').checked = true;
    state.lastVariables = "";
    await refreshVariables();
  }
  if (params.has("wrt")) $("wrt").value = params.get("wrt");
  // the first question answered at once: the example (or the model given) derived on opening
  if (!params.has("model") || params.has("derive")) {
    await refreshVariables();
    await derive();
  }
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
