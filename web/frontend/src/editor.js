// The YAML editor: CodeMirror 6 with completion, hover docs and inline checks from the
// API server's own OpenAPI schemas, and the server's answers marked at their lines.
import { EditorView, basicSetup } from "codemirror";
import { EditorState, StateField, StateEffect, RangeSet } from "@codemirror/state";
import { keymap, hoverTooltip, gutter, GutterMarker } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, forceLinting, forEachDiagnostic } from "@codemirror/lint";
import { autocompletion } from "@codemirror/autocomplete";
import { pathAt, topLevel, lineInfo, docBounds, keyLines } from "./yamlpath.js";
import { forKind, kinds, typeName } from "./schema.js";

const $ = (s, r) => (r || document).querySelector(s);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// ---- the schema at the cursor ----
async function schemaAt(lines, line, col) {
  const top = topLevel(lines, line);
  const k = await forKind(top.apiVersion, top.kind);
  if (!k) return null;
  const path = pathAt(lines, line, col);
  return { k, path, parent: k.schemas.at(k.root, path) };
}

function docText(d) {
  return (d || "").split("\n")[0].slice(0, 300);
}

async function complete(ctx) {
  const line = ctx.state.doc.lineAt(ctx.pos);
  const before = line.text.slice(0, ctx.pos - line.from);
  const lines = ctx.state.doc.toString().split("\n");
  const ln = line.number - 1;
  // A value: kind and apiVersion come from what the server serves.
  const vm = /^(kind|apiVersion):\s*([\w.\/-]*)$/.exec(before);
  if (vm) {
    const all = await kinds().catch(() => []);
    const top = topLevel(lines, ln);
    const seen = new Set();
    const options = [];
    for (const k of all) {
      const label = vm[1] === "kind" ? k.kind : k.apiVersion;
      if (vm[1] === "apiVersion" && top.kind && k.kind !== top.kind) continue;
      if (seen.has(label)) continue;
      seen.add(label);
      options.push({ label, type: "type", detail: vm[1] === "kind" ? k.apiVersion : "" });
    }
    return { from: ctx.pos - vm[2].length, options, validFor: /^[\w.\/-]*$/ };
  }
  // A key: the properties of the mapping the cursor is in.
  const km = /^(\s*)(- +)?([A-Za-z0-9_.-]*)$/.exec(before);
  if (!km || (!ctx.explicit && km[3] === "" && !km[2])) return null;
  const col = before.length - km[3].length;
  const at = await schemaAt(lines, ln, col);
  if (!at || !at.parent || !at.parent.properties) return null;
  const present = new Set();
  const [first, last] = docBounds(lines, ln);
  for (const k of keyLines(lines, first, last)) if (k.col === col && k.line !== ln && String(k.parent) === String(at.path)) present.add(k.key);
  const indent = " ".repeat(col);
  const options = Object.entries(at.parent.properties)
    .filter(([name]) => !present.has(name))
    .map(([name, raw]) => {
      const s = at.k.schemas.resolve(raw) || {};
      const t = typeName(at.k.schemas, raw);
      let apply = name + ": ";
      if (s.type === "array") apply = name + ":\n" + indent + "  - ";
      else if (s.type === "object" && s.properties) apply = name + ":\n" + indent + "  ";
      return { label: name, type: "property", detail: t, info: s.description || raw.description || "", apply };
    });
  return { from: ctx.pos - km[3].length, options, validFor: /^[A-Za-z0-9_.-]*$/ };
}

async function hover(view, pos) {
  const line = view.state.doc.lineAt(pos);
  const li = lineInfo(line.text);
  if (li.blank || !li.colon) return null;
  const from = line.from + li.keyAt;
  const to = from + li.key.length;
  if (pos < from || pos > to) return null;
  const lines = view.state.doc.toString().split("\n");
  const at = await schemaAt(lines, line.number - 1, li.keyAt);
  if (!at || !at.parent || !at.parent.properties || !at.parent.properties[li.key]) return null;
  const raw = at.parent.properties[li.key];
  const s = at.k.schemas.resolve(raw) || {};
  const where = at.path.concat(li.key).join(".").replace(/\.\[\]/g, "[]");
  return {
    pos: from,
    end: to,
    above: true,
    create() {
      const dom = document.createElement("div");
      dom.className = "cm-doc";
      dom.dataset.testid = "hover-doc";
      dom.innerHTML = "<b>" + esc(where) + "</b> <i>" + esc(typeName(at.k.schemas, raw)) + "</i><p>" + esc(raw.description || s.description || "") + "</p>";
      return { dom };
    },
  };
}

// ---- inline checks: unknown fields, against the schema of each document's kind ----
let serverDiags = [];

async function check(view) {
  const doc = view.state.doc;
  const lines = doc.toString().split("\n");
  const out = [];
  for (let start = 0; start < lines.length; ) {
    const [first, last] = docBounds(lines, start);
    const top = topLevel(lines, first);
    const k = await forKind(top.apiVersion, top.kind);
    if (top.kind && top.apiVersion && !k) {
      const i = lines.findIndex((l, n) => n >= first && n <= last && /^kind:/.test(l));
      if (i >= 0) out.push(diag(doc, i, 0, lines[i].length, "warning", "this API server has no " + top.kind + " in " + top.apiVersion));
    }
    if (k) {
      for (const key of keyLines(lines, first, last)) {
        const parent = k.schemas.at(k.root, key.parent);
        if (!parent || !parent.properties || parent.additionalProperties) continue;
        if (!parent.properties[key.key]) {
          const near = nearest(key.key, Object.keys(parent.properties));
          const where = key.parent.length ? key.parent.join(".").replace(/\.\[\]/g, "[]") : top.kind;
          out.push(diag(doc, key.line, key.col, key.col + key.key.length, "error", 'unknown field "' + key.key + '" in ' + where + (near ? ' (did you mean "' + near + '"?)' : "")));
        }
      }
    }
    start = last + 2;
  }
  return out.concat(serverDiags);
}

function diag(doc, line, from, to, severity, message) {
  const l = doc.line(line + 1);
  return { from: l.from + from, to: Math.max(l.from + from + 1, Math.min(l.to, l.from + to)), severity, message, source: "webkube" };
}

function nearest(word, words) {
  let best = "";
  let bd = 3;
  for (const w of words) {
    const d = distance(word.toLowerCase(), w.toLowerCase());
    if (d < bd) {
      bd = d;
      best = w;
    }
  }
  return best;
}

function distance(a, b) {
  const m = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) m[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      m[i][j] = Math.min(m[i - 1][j] + 1, m[i][j - 1] + 1, m[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) m[i][j] = Math.min(m[i][j], m[i - 2][j - 2] + 1);
    }
  return m[a.length][b.length];
}

// ---- the server's errors in their own gutter, one marker per line ----
const setServerErrors = StateEffect.define();
class ErrMarker extends GutterMarker {
  constructor(line, text) {
    super();
    this.line = line;
    this.text = text;
  }
  eq(o) {
    return o.line === this.line && o.text === this.text;
  }
  toDOM() {
    const d = document.createElement("div");
    d.className = "srv-err";
    d.dataset.testid = "gutter-err";
    d.dataset.line = this.line;
    d.title = this.text;
    d.textContent = "●";
    return d;
  }
}
const serverErrors = StateField.define({
  create: () => RangeSet.empty,
  update(set, tr) {
    for (const e of tr.effects) if (e.is(setServerErrors)) return e.value;
    return tr.docChanged ? RangeSet.empty : set;
  },
});
const serverGutter = gutter({ class: "cm-srv-gutter", markers: (v) => v.state.field(serverErrors) });

// ---- the page ----
function mount() {
  const host = $("#yaml");
  if (!host) return;
  const wk = window.wk || (window.wk = {});
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: "",
      extensions: [
        basicSetup,
        keymap.of([{ key: "Mod-Enter", run: () => (run("apply"), true) }, indentWithTab]),
        yaml(),
        EditorState.tabSize.of(2),
        autocompletion({ override: [complete], activateOnTyping: true }),
        hoverTooltip(hover, { hoverTime: 300 }),
        linter(check, { delay: 400 }),
        lintGutter(),
        serverErrors,
        serverGutter,
        EditorView.updateListener.of((u) => {
          if (u.docChanged && serverDiags.length) serverDiags = [];
        }),
        EditorView.contentAttributes.of({ "aria-label": "YAML" }),
      ],
    }),
  });
  const set = (text) => {
    serverDiags = [];
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  };
  // diagnostics lists what the editor underlines now, as {line, message, severity}.
  const diagnostics = () => {
    const out = [];
    forEachDiagnostic(view.state, (d, from) => out.push({ line: view.state.doc.lineAt(from).number, message: d.message, severity: d.severity }));
    return out;
  };
  wk.editor = { view, get: () => view.state.doc.toString(), set, diagnostics };

  document.querySelectorAll("[data-example]").forEach((b) =>
    b.addEventListener("click", () => {
      set($("#ex-" + b.dataset.example).content.textContent);
      $("#results").innerHTML = "";
      view.focus();
    })
  );
  const selectLine = (n, field) => {
    const l = view.state.doc.line(Math.min(Math.max(1, n), view.state.doc.lines));
    const name = field ? field.split(".").pop().replace(/\[\d+\]$/, "") : "";
    const i = name ? l.text.indexOf(name) : -1;
    const sel = i >= 0 ? { anchor: l.from + i, head: l.from + i + name.length } : { anchor: l.from, head: l.to };
    view.dispatch({ selection: sel, scrollIntoView: true });
    view.focus();
  };

  async function run(mode) {
    const state = $("#editor-state");
    state.textContent = mode === "apply" ? wk.t("js.applying") : mode === "diff" ? wk.t("js.diffing") : wk.t("js.dry_running");
    let data;
    try {
      data = await wk.post("/ui/apply", { yaml: view.state.doc.toString(), mode });
    } catch (e) {
      state.textContent = "";
      return;
    }
    const out = [];
    const marks = new Map();
    serverDiags = [];
    let bad = 0;
    for (const r of data.results) {
      const what = r.kind ? r.kind + "/" + r.name : "document " + (r.doc + 1);
      if (r.errors && r.errors.length) {
        bad++;
        let h = '<li class="res bad" data-testid="result" data-ok="false"><b>' + esc(what) + "</b><ul>";
        for (const e of r.errors) {
          h += '<li data-testid="error" data-line="' + e.line + '" data-field="' + esc(e.field || "") + '"><a href="#" data-line="' + e.line + '" data-field="' + esc(e.field || "") + '">line ' + e.line + "</a> " + (e.field ? "<code>" + esc(e.field) + "</code> " : "") + esc(e.message) + "</li>";
          serverMark(view, e, marks);
        }
        out.push(h + "</ul></li>");
      } else {
        let h = '<li class="res ok" data-testid="result" data-ok="true"><b>' + esc(what) + "</b> " + esc(r.action || "");
        if (r.kind && r.name && !/dry run|not sent/.test(r.action || "")) h += ' <a href="/o/' + esc(r.kind.toLowerCase()) + "/" + esc(r.namespace || "_") + "/" + esc(r.name) + '">open</a>';
        if (mode === "diff") h += r.diff ? '<pre class="diff" data-testid="diff-out">' + diffHTML(r.diff) + "</pre>" : ' <span class="muted">no changes</span>';
        out.push(h + "</li>");
      }
    }
    $("#results").innerHTML = out.join("");
    const ranges = [...marks].map(([n, m]) => new ErrMarker(n, m.text).range(m.from));
    view.dispatch({ effects: setServerErrors.of(RangeSet.of(ranges, true)) });
    forceLinting(view);
    state.textContent = bad ? bad + " document(s) with errors; nothing applied" : data.applied ? "applied" : "done";
    const first = data.results.flatMap((r) => r.errors || [])[0];
    if (first) selectLine(first.line, first.field);
  }
  wk.editor.run = run;
  $("#results").addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-line]");
    if (a) {
      ev.preventDefault();
      selectLine(Number(a.dataset.line), a.dataset.field);
    }
  });
  $("#apply").addEventListener("click", () => run("apply"));
  $("#dryrun").addEventListener("click", () => run("dryrun"));
  $("#diff").addEventListener("click", () => run("diff"));
}

// serverMark adds one of the server's errors as a gutter marker and an underline at its field.
function serverMark(view, e, marks) {
  const doc = view.state.doc;
  const n = Math.min(Math.max(1, e.line || 1), doc.lines);
  const l = doc.line(n);
  const name = e.field ? e.field.split(".").pop().replace(/\[\d+\]$/, "") : "";
  const i = name ? l.text.indexOf(name) : -1;
  const from = i >= 0 ? l.from + i : l.from + (l.text.length - l.text.trimStart().length);
  const to = i >= 0 ? from + name.length : l.to;
  serverDiags.push({ from, to: Math.max(to, from + 1 <= l.to ? from + 1 : to), severity: "error", message: e.message, source: "API server" });
  const prev = marks.get(n);
  marks.set(n, { from: l.from, text: prev ? prev.text + "\n" + e.message : e.message });
}

function diffHTML(d) {
  return d
    .split("\n")
    .map((l) => (l.startsWith("+") ? '<span class="add">' + esc(l) + "</span>" : l.startsWith("-") ? '<span class="del">' + esc(l) + "</span>" : esc(l)))
    .join("\n");
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
