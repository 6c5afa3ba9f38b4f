// webkube dashboard: applies what the server pushes over one websocket per tab, and sends
// the learner's clicks to /ui/* with the CSRF token. No framework, no polling.
(function () {
  "use strict";
  const $ = (s, r) => (r || document).querySelector(s);
  const $$ = (s, r) => Array.from((r || document).querySelectorAll(s));
  const csrf = ($('meta[name="csrf-token"]') || {}).content || "";
  const page = document.body.dataset.page;
  const objEl = $("#object");
  const wk = (window.wk = { stats: [], steps: 0, ready: false });
  const dg = window.wkDiagram; // diagram.js: the animator's diagram and stories
  // The page's language catalogue (web/i18n), so scripts speak the page's language too.
  let cat = {};
  try {
    cat = JSON.parse(($("#i18n-catalogue") || {}).textContent || "{}");
  } catch (e) {
    console.error("i18n catalogue", e); // keys show as themselves; the page still works
  }
  const t = (wk.t = (key, ...args) => {
    let i = 0;
    return (cat[key] || key).replace(/%[sd]/g, () => String(args[i++]));
  });

  // ---- helpers ----
  function toast(text, bad) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = text;
    t.className = "show" + (bad ? " bad" : "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.className = ""), bad ? 6000 : 2500);
  }
  async function post(url, body) {
    let res, data;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });
      data = await res.json().catch(() => ({}));
    } catch (e) {
      toast(t("js.no_answer", e.message), true);
      throw e;
    }
    if (!res.ok) {
      toast((data.error || data.message || res.statusText) + (data.hint ? " — " + data.hint : ""), true);
      const err = new Error(data.error || res.statusText);
      err.data = data;
      throw err;
    }
    if (data.message) toast(data.message);
    return data;
  }
  function frag(html) {
    const t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content;
  }
  // sameness is a row's HTML without its age's text, which the page ticks on itself: two
  // renders of an unchanged row a second apart are the same row.
  const sameness = (html) => html.replace(/(<time class="age"[^>]*>)[^<]*/g, "$1");
  // patchRow makes row cur read as nr by replacing only the cells that changed (and the
  // row's attributes): a pod going Pending → Running changes three cells of nine, and a
  // whole new row restyled and laid out all of them.
  function patchRow(cur, nr, same) {
    const oc = Array.from(cur.cells),
      nc = Array.from(nr.cells);
    if (oc.length !== nc.length) return false;
    for (let i = 0; i < oc.length; i++) if (sameness(oc[i].outerHTML) !== sameness(nc[i].outerHTML)) oc[i].replaceWith(nc[i]);
    for (const at of Array.from(cur.attributes)) if (!nr.hasAttribute(at.name)) cur.removeAttribute(at.name);
    for (const at of Array.from(nr.attributes)) if (cur.getAttribute(at.name) !== at.value) cur.setAttribute(at.name, at.value);
    cur.wkHTML = same;
    return true;
  }
  // setRows puts a page of table rows (op.rows, parsed once) in place, keeping each row
  // whose HTML did not change and moving it where it belongs, in at most budget changes;
  // it returns the budget left, below 0 when the page is not all in place yet (the next
  // frame goes on from there). Replacing them all (the pods page, redone twice a second
  // while pods come and go) restyled, re-laid out and repainted the whole table each time.
  function setRows(box, op, budget) {
    const old = new Map();
    for (const tr of box.children) if (tr.id) old.set(tr.id, tr);
    let at = box.firstElementChild;
    for (const nr of op.rows) {
      if (nr.wkSame === undefined) nr.wkSame = sameness(nr.outerHTML);
      const same = nr.wkSame;
      let cur = nr.id ? old.get(nr.id) : null;
      old.delete(nr.id);
      if (cur === nr) {
        // put in place by an earlier frame
      } else if (cur && cur.wkHTML !== same) {
        if (budget <= 0) return -1;
        budget--;
        if (!patchRow(cur, nr, same)) {
          if (cur === at) at = at.nextElementSibling;
          cur.remove();
          cur = null;
        }
      }
      let fresh = false;
      if (!cur) {
        if (budget <= 0) return -1;
        budget--;
        cur = nr;
        cur.wkHTML = same;
        fresh = true;
      }
      if (cur === at) at = at.nextElementSibling;
      else {
        // A row moved is a change of its own; a new row was counted above.
        if (!fresh && budget-- <= 0) return -1;
        box.insertBefore(cur, at);
      }
    }
    while (at) {
      const next = at.nextElementSibling;
      at.remove();
      at = next;
    }
    return budget;
  }
  // ---- table rows, a few a frame ----
  // Row changes ("up"/"rm" of a row, "set" of a table body) wait in rowOps, in order, and a
  // frame of their own (dg.paced) applies up to ROWS_PER_FRAME of them, at most every
  // ROWS_EVERY ms. Any change to a table lays out and repaints all of it (100 pod rows: 20-50
  // ms), and the ReplicaSet controller creates pods 16 and 32 at a time: frames that styled
  // and laid out that many new rows took up to 250 ms (BenchmarkScale0To100's trace). A
  // table body's "set" carries its whole page, so it drops the changes of that body waiting
  // before it.
  const ROWS_PER_FRAME = 12;
  const ROWS_EVERY = 250;
  const rowOps = [];
  let viewAsked = false; // a page of pods asked for (sendView) whose rows have not come yet
  let rowsAt = -Infinity,
    rowsTimer = 0;
  function rowsNextFrame() {
    if (rowsTimer) return;
    const wait = ROWS_EVERY - (performance.now() - rowsAt);
    const ask = () => {
      rowsTimer = 0;
      if (dg && dg.paced) dg.paced(applyRows);
      else if (document.hidden || !window.requestAnimationFrame) setTimeout(applyRows, 50);
      else requestAnimationFrame(applyRows);
    };
    if (wait <= 0) ask();
    else rowsTimer = setTimeout(ask, wait);
  }
  const isRowOp = (m) =>
    ((m.t === "up" || m.t === "rm") && String(m.id).startsWith("row-")) ||
    (m.t === "set" && !!m.id && m.id.startsWith("tbody-") && (document.getElementById(m.id) || {}).tagName === "TBODY");
  function queueRow(m) {
    if (m.t === "set") {
      m.stats = [];
      for (let i = rowOps.length - 1; i >= 0; i--) {
        const o = rowOps[i];
        const el = o.t === "rm" ? document.getElementById(o.id) : null;
        if (o.id === m.id || o.in === m.id || (el && el.parentElement && el.parentElement.id === m.id)) {
          rowOps.splice(i, 1);
          if (o.ts) m.stats.push(o);
          if (o.stats) m.stats.push(...o.stats);
        }
      }
      m.rows = Array.from(frag(m.html || "").children);
    }
    rowOps.push(m);
    rowsNextFrame();
  }
  // applyRows is a frame's share of the row changes (a frame callback: its argument, if
  // any, is the frame's time, not a budget).
  function applyRows() {
    applyRowsUpTo(ROWS_PER_FRAME);
  }
  function applyRowsUpTo(max) {
    rowsAt = performance.now();
    let budget = max;
    while (rowOps.length && budget > 0) {
      const m = rowOps[0];
      if (m.t === "set") {
        const el = document.getElementById(m.id);
        if (el && el.tagName === "TBODY") budget = setRows(el, m, budget);
        if (budget < 0) break;
        for (const o of m.stats) stat(o);
      } else if (m.t === "rm") {
        const el = document.getElementById(m.id);
        if (el) el.remove();
        budget--;
      } else {
        upRow(m);
        budget--;
      }
      rowOps.shift();
      stat(m);
    }
    if (rowOps.length) rowsNextFrame();
    applyFilter();
  }
  // upRow puts one row in place: its changed cells if it is there, else the row at the end
  // of its table (the pods table is a page the server chose: a pod not on it comes with a
  // new page).
  function upRow(m) {
    const el = document.getElementById(m.id);
    const row = frag(m.html || "").firstElementChild;
    if (!row) return;
    const same = sameness(row.outerHTML);
    if (el) {
      if (el.wkHTML === same) return;
      if (el.tagName === "TR" && row.tagName === "TR" && patchRow(el, row, same)) return;
      row.wkHTML = same;
      el.replaceWith(row);
      return;
    }
    const box = m.in !== "tbody-pods" && document.getElementById(m.in);
    if (!box) return;
    row.wkHTML = same;
    box.appendChild(row);
  }
  function confirmDialog(text, okText) {
    const d = $("#confirm");
    if (!d || !d.showModal) return Promise.resolve(window.confirm(text));
    $("#confirm-text").textContent = text;
    $('[data-testid="confirm-ok"]', d).textContent = okText || t("confirm.delete");
    d.returnValue = "";
    d.showModal();
    return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true }));
  }
  function wsURL(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  // ---- live updates ----
  function stat(m) {
    if (!m.ts) return;
    wk.stats.push({ id: m.id || (m.step && "step-" + m.step.seq), ts: m.ts, at: Date.now() });
    if (wk.stats.length > 20000) wk.stats.splice(0, 10000);
  }
  function applyMsg(m) {
    if (isRowOp(m)) {
      queueRow(m); // its stat is taken when it is drawn
      if (viewAsked && m.t === "set" && m.id === "tbody-pods") {
        // The page the learner asked for (next page, a filter) goes in at once, before its
        // pager: pacing is for the cluster's churn, and a pager saying page 2 over page 1's
        // rows would be wrong for seconds.
        viewAsked = false;
        applyRowsUpTo(Infinity);
      }
      return;
    }
    switch (m.t) {
      case "up": {
        const el = document.getElementById(m.id);
        const f = frag(m.html || "");
        const row = f.firstElementChild;
        if (row && row.tagName === "TR") row.wkHTML = sameness(row.outerHTML);
        if (el) {
          el.replaceWith(f);
          if (m.id === "diagram" && dg) dg.mount();
        } else {
          // The pods table is a page the server chose: a pod not on it comes with a new page.
          const box = m.in !== "tbody-pods" && document.getElementById(m.in);
          if (!box) return;
          box.appendChild(f);
        }
        break;
      }
      case "rm": {
        const el = document.getElementById(m.id);
        if (el) el.remove();
        break;
      }
      case "set": {
        const el = document.getElementById(m.id);
        if (el) el.innerHTML = m.html || "";
        if (m.id === "obj-live" && objEl && objEl.dataset.gone === "true") {
          // Created again under the same name: the page follows the new object, and the
          // actions "gone" turned off work again.
          delete objEl.dataset.gone;
          $$("[data-gone-off]", objEl).forEach((b) => {
            b.disabled = false;
            delete b.dataset.goneOff;
          });
        }
        if (m.id === "obj-live") syncPodActs();
        if (m.id === "steps") afterStepsReset();
        if (m.id === "held") markHeld();
        break;
      }
      case "gone": {
        // The object was deleted: say so, and offer no action on it any more.
        const el = document.getElementById(m.id);
        if (el) el.innerHTML = m.html || "";
        if (objEl) {
          objEl.dataset.gone = "true";
          $$("[data-act], .obj-head input, #labels button, #labels input, #exec-start", objEl).forEach((b) => {
            if (b.disabled) return; // off for its own reason; it stays so
            b.disabled = true;
            b.dataset.goneOff = "true";
          });
        }
        break;
      }
      case "step":
        addStep(m);
        break;
      case "mode":
        setMode(m.on);
        break;
      case "ready":
        wk.ready = true;
        setConn("live", "ok");
        break;
    }
    stat(m);
    if (m.t === "up" || m.t === "set") applyFilter();
  }
  function setConn(text, cls) {
    const c = $("#conn");
    if (c) {
      c.textContent = text;
      c.className = "conn " + (cls || "");
    }
  }
  let backoff = 500;
  // The overview's pods are paged and filtered by the server (a big cluster's thousands of
  // pods would swamp the page): the tab says which page it wants over its websocket.
  let sock = null;
  const podView = { t: "pods", q: "", off: 0 };
  function sendView() {
    if (page === "overview" && sock && sock.readyState === 1) {
      viewAsked = true;
      sock.send(JSON.stringify(podView));
    }
  }
  function connect() {
    const q = new URLSearchParams();
    q.set("page", page || "");
    if (objEl) q.set("obj", [objEl.dataset.kind.toLowerCase(), objEl.dataset.ns || "_", objEl.dataset.name].join("/"));
    const lessonEl = $("#lesson");
    if (lessonEl) q.set("lesson", lessonEl.dataset.lesson);
    const ws = (sock = new WebSocket(wsURL("/ws?" + q.toString())));
    ws.onopen = () => {
      backoff = 500;
      if (podView.q || podView.off) sendView(); // a reconnected tab keeps its page of pods
    };
    ws.onmessage = (ev) => {
      if (!wk.ready) wk.snapBytes = (wk.snapBytes || 0) + ev.data.length; // the snapshot's size, for tests
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      applyMsg(m);
    };
    ws.onclose = () => {
      wk.ready = false;
      setConn("reconnecting…", "bad");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 8000);
    };
  }
  connect();

  // ---- ages ----
  // The server renders an age with the instant it counts from (data-t) and its own clock
  // (body data-now); the page ticks them on, as kubectl's AGE would read now.
  const skew = Number(document.body.dataset.now || 0) ? Number(document.body.dataset.now) - Date.now() : 0;
  const humanAge = (wk.humanAge = (ms) => {
    // k8s.io/apimachinery/pkg/util/duration.HumanDuration, which kubectl uses.
    const tr = Math.trunc, sec = tr(ms / 1000), min = tr(ms / 60000), h = tr(ms / 3600000), d = tr(h / 24), y = tr(d / 365);
    if (sec < -1) return "<invalid>";
    if (sec < 0) return "0s";
    if (sec < 120) return sec + "s";
    if (min < 10) return sec % 60 === 0 ? min + "m" : min + "m" + (sec % 60) + "s";
    if (min < 180) return min + "m";
    if (h < 8) return min % 60 === 0 ? h + "h" : h + "h" + (min % 60) + "m";
    if (h < 48) return h + "h";
    if (h < 192) return h % 24 === 0 ? d + "d" : d + "d" + (h % 24) + "h";
    if (h < 24 * 365 * 2) return d + "d";
    if (h < 24 * 365 * 8) return d % 365 === 0 ? y + "y" : y + "y" + (d % 365) + "d";
    return y + "y";
  });
  function tickAges() {
    const now = Date.now() + skew;
    $$("time.age[data-t]").forEach((el) => {
      const at = Number(el.dataset.t);
      if (!at) return;
      const s = humanAge(now - at);
      if (el.textContent !== s) el.textContent = s;
    });
  }
  setInterval(tickAges, 1000);

  // Older steps come without their bodies (see fullSteps in live.go): fetched when opened.
  // toggle does not bubble, so it is caught on its way down.
  document.addEventListener(
    "toggle",
    (ev) => {
      const d = ev.target;
      const body = d.tagName === "DETAILS" && d.open && $(":scope > .st-body[data-lazy]", d);
      if (!body) return;
      const seq = body.dataset.lazy;
      delete body.dataset.lazy;
      fetch("/ui/step/" + seq, { credentials: "same-origin" })
        .then((r) => r.text())
        .then((h) => (body.innerHTML = h))
        .catch(() => (body.dataset.lazy = seq));
    },
    true
  );

  // ---- animator: the diagram and the stories live in diagram.js ----
  function addStep(m) {
    wk.steps++;
    if (dg) dg.step(m);
  }
  function afterStepsReset() {
    if (dg) dg.reset();
  }
  // The pod's break-it actions follow the pod: the page may be drawn before the pod is on a
  // node (no container to kill yet). Ones the user may not do, or off because the pod is
  // gone, stay off.
  function syncPodActs() {
    const live = document.getElementById("obj-live-inner");
    if (!live || !objEl) return;
    for (const act of ["kill", "probe"]) {
      const b = objEl.querySelector(`[data-act=${act}]`);
      if (!b || b.dataset.denied || b.dataset.goneOff || live.dataset[act] === undefined) continue;
      b.disabled = live.dataset[act] !== "true";
    }
  }
  function markHeld() {
    if (dg) dg.held();
  }
  function setMode(on) {
    const box = $("#stepmode");
    if (box) box.checked = !!on;
    ["#step-next", "#step-run"].forEach((s) => {
      const b = $(s);
      if (b) b.disabled = !on;
    });
    document.body.classList.toggle("stepping", !!on);
  }
  const modeBox = $("#stepmode");
  if (modeBox) modeBox.addEventListener("change", () => post("/ui/stepmode", { on: modeBox.checked }).catch(() => {}));
  const nextBtn = $("#step-next");
  if (nextBtn) nextBtn.addEventListener("click", () => post("/ui/next").catch(() => {}));
  const runBtn = $("#step-run");
  if (runBtn) runBtn.addEventListener("click", () => post("/ui/stepmode", { on: false }).catch(() => {}));

  // ---- filter ----
  const filter = $("#filter");
  let filtered = false;
  function applyFilter() {
    if (!filter) return;
    const q = filter.value.trim().toLowerCase();
    // Most updates arrive with no filter typed: nothing to do.
    if (q === "" && !filtered) return;
    filtered = q !== "";
    $$("tbody:not(#tbody-pods) tr[data-name]").forEach((tr) => {
      tr.hidden = q !== "" && !tr.textContent.toLowerCase().includes(q);
    });
    $$("#steps > li").forEach((li) => {
      li.hidden = q !== "" && !li.textContent.toLowerCase().includes(q);
    });
  }
  // Some input paths deliver the "/" that focused the filter as text too; drop it.
  let slashFocus = false;
  // The pod table is filtered by the server: ask once typing pauses, not per keystroke.
  let viewTimer = 0;
  if (filter)
    filter.addEventListener("input", () => {
      if (slashFocus && filter.value.startsWith("/")) filter.value = filter.value.slice(1);
      slashFocus = false;
      applyFilter();
      clearTimeout(viewTimer);
      viewTimer = setTimeout(() => {
        const q = filter.value.trim();
        if (q !== podView.q) {
          podView.q = q;
          podView.off = 0;
          sendView();
        }
      }, 150);
    });

  // ---- actions on tables and object pages ----
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("[data-act]");
    if (!b || b.tagName === "INPUT") return;
    const act = b.dataset.act;
    try {
      if (act === "pods-page") {
        podView.off = Number(b.dataset.off) || 0;
        sendView();
      } else if (act === "delete") {
        const what = b.dataset.kind + " " + b.dataset.name;
        const say = b.dataset.say ? "\n" + b.dataset.say : ""; // who reacts: the GC, a controller, nobody
        if (!(await confirmDialog(t("del.confirm", what) + say))) return;
        await post("/ui/delete", { kind: b.dataset.kind, namespace: b.dataset.ns, name: b.dataset.name });
      } else if (act === "scale-inc" || act === "scale-dec") {
        const s = b.closest(".scale");
        const input = $("input", s);
        const n = Math.max(0, Number(input.value || 0) + (act === "scale-inc" ? 1 : -1));
        input.value = n;
        await post("/ui/scale", { kind: s.dataset.kind, namespace: s.dataset.ns, name: s.dataset.name, replicas: n });
      } else if (act === "cordon") {
        await post("/ui/cordon", { node: b.dataset.node, on: b.dataset.on === "true" });
      } else if (act === "kill") {
        // Kill and probe have their own container choice; the terminal's is the terminal's.
        const c = $("#act-container");
        if (!(await confirmDialog(t("js.confirm_kill", c ? c.value : "", b.dataset.name), t("js.kill")))) return;
        const out = $("#kill-result");
        b.disabled = true;
        try {
          const r = await post("/ui/kill", { namespace: b.dataset.ns, name: b.dataset.name, container: c ? c.value : "" });
          if (out) {
            out.textContent = r.message; // the exit code and state the kubelet reported
            out.hidden = false;
          }
        } finally {
          b.disabled = objEl && objEl.dataset.gone === "true";
        }
      } else if (act === "lesson-do") {
        await post("/ui/lessons/do", { lesson: b.dataset.lesson, step: Number(b.dataset.step) });
      } else if (act === "lesson-reset") {
        if (!(await confirmDialog(t("js.confirm_reset"), t("js.reset")))) return;
        await post("/ui/lessons/reset", { lesson: b.dataset.lesson });
      } else if (act === "copy") {
        await navigator.clipboard.writeText(b.dataset.text).then(() => toast(t("js.copied")), () => toast(t("js.copy_failed"), true));
      } else if (act === "probe") {
        const c = $("#act-container");
        await post("/ui/probe", { namespace: b.dataset.ns, name: b.dataset.name, container: c ? c.value : "" });
      }
    } catch (e) {
      /* toast already shown */
    }
  });
  document.addEventListener("change", (ev) => {
    const i = ev.target;
    if (i.dataset && i.dataset.act === "scale-set") {
      const s = i.closest(".scale");
      post("/ui/scale", { kind: s.dataset.kind, namespace: s.dataset.ns, name: s.dataset.name, replicas: Number(i.value) }).catch(() => {});
    }
  });

  // ---- keyboard ----
  let gPending = false;
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable;
    if (ev.key === "Escape") {
      $$("dialog[open]").forEach((d) => d.close());
      if (t === filter) {
        filter.value = "";
        applyFilter();
        if (podView.q) {
          podView.q = "";
          podView.off = 0;
          sendView();
        }
        filter.blur();
      }
      return;
    }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (gPending) {
      gPending = false;
      const to = { o: "/", e: "/editor", s: "/steps" }[ev.key];
      if (to) location.href = to;
      return;
    }
    if (ev.key === "?") {
      const h = $("#help");
      if (h.open) h.close();
      else h.showModal();
      ev.preventDefault();
    } else if (ev.key === "/") {
      slashFocus = filter.value === "";
      filter.focus();
      filter.select();
      ev.preventDefault();
    } else if (ev.key === "g") {
      gPending = true;
      setTimeout(() => (gPending = false), 1500);
    } else if (ev.key === "n" && nextBtn && !nextBtn.disabled) {
      nextBtn.click();
    }
  });
  const helpBtn = $("#help-btn");
  if (helpBtn) helpBtn.addEventListener("click", () => $("#help").showModal());

  // The YAML editor (CodeMirror) and the terminal (xterm.js) are bundles of their own,
  // built from web/frontend into /static/dist; they use wk.post and wk.toast.
  wk.post = post;
  wk.toast = toast;

  // ---- label editor ----
  const chips = $("#label-chips");
  if (chips && objEl) {
    const initial = {};
    $$(".chip", chips).forEach((c) => (initial[c.dataset.key] = c.dataset.value));
    let cur = Object.assign({}, initial);
    const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
    const same = () => JSON.stringify(Object.entries(cur).sort()) === JSON.stringify(Object.entries(initial).sort());
    const draw = () => {
      chips.innerHTML = Object.keys(cur)
        .sort()
        .map(
          (k) =>
            '<span class="chip' + (initial[k] !== cur[k] ? " changed" : "") + '" data-key="' + esc(k) + '" data-value="' + esc(cur[k]) + '" data-testid="label-chip"><span class="chip-text" title="' + esc(t("js.click_to_edit")) + '">' + esc(k) + "=" + esc(cur[k]) + '</span><button class="chip-x" aria-label="' + esc(t("js.remove_label", k)) + '" data-testid="label-remove">×</button></span>'
        )
        .join("");
      const removed = Object.keys(initial).filter((k) => !(k in cur));
      if (removed.length) chips.insertAdjacentHTML("beforeend", removed.map((k) => '<span class="chip removed">' + esc(k) + "=" + esc(initial[k]) + "</span>").join(""));
      $("#label-apply").disabled = same();
      preview();
    };
    let seq = 0;
    const preview = async () => {
      const box = $("#label-preview");
      if (same()) {
        box.innerHTML = "";
        return;
      }
      const my = ++seq;
      let data;
      try {
        data = await post("/ui/labels/preview", { namespace: objEl.dataset.ns, name: objEl.dataset.name, labels: cur });
      } catch (e) {
        return;
      }
      if (my !== seq) return;
      box.innerHTML = data.effects.length
        ? "<h3>If you apply this</h3><ul>" + data.effects.map((e) => '<li class="eff ' + e.change + '" data-testid="effect" data-kind="' + esc(e.kind) + '" data-name="' + esc(e.name) + '" data-change="' + esc(e.change) + '"><b>' + esc(e.kind) + "/" + esc(e.name) + "</b> " + esc(e.change) + " the pod: " + esc(e.says) + "</li>").join("") + "</ul>"
        : '<p class="muted" data-testid="effect-none">No ReplicaSet or Service selects this pod before or after.</p>';
    };
    chips.addEventListener("click", (ev) => {
      const x = ev.target.closest(".chip-x");
      const chip = ev.target.closest(".chip");
      if (!chip || chip.classList.contains("removed")) return;
      if (x) {
        delete cur[chip.dataset.key];
        draw();
      } else {
        const f = $("#label-add");
        f.key.value = chip.dataset.key;
        f.value.value = chip.dataset.value;
        f.value.focus();
      }
    });
    $("#label-add").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = ev.target;
      const k = f.key.value.trim();
      if (!k) return;
      cur[k] = f.value.value.trim();
      f.key.value = f.value.value = "";
      draw();
    });
    $("#label-reset").addEventListener("click", () => {
      cur = Object.assign({}, initial);
      draw();
    });
    $("#label-apply").addEventListener("click", async () => {
      try {
        await post("/ui/labels", { namespace: objEl.dataset.ns, name: objEl.dataset.name, labels: cur });
        Object.keys(initial).forEach((k) => delete initial[k]);
        Object.assign(initial, cur);
        draw();
      } catch (e) {}
    });
  }

  // ---- logs ----
  const logOut = $("#log-out");
  if (logOut && objEl) {
    let lws = null;
    const state = $("#log-state");
    const search = $("#log-search");
    const match = (line) => {
      const q = search.value;
      return !q || line.toLowerCase().includes(q.toLowerCase());
    };
    const addLine = (s) => {
      const d = document.createElement("div");
      d.textContent = s;
      d.className = "ll";
      if (!match(s)) d.hidden = true;
      logOut.appendChild(d);
      while (logOut.childElementCount > 5000) logOut.firstElementChild.remove();
      if ($("#log-follow").checked) logOut.scrollTop = logOut.scrollHeight;
    };
    const start = () => {
      if (lws) {
        lws.onclose = null;
        lws.close();
      }
      logOut.innerHTML = "";
      const q = new URLSearchParams({
        namespace: objEl.dataset.ns,
        name: objEl.dataset.name,
        container: $("#log-container").value,
        follow: $("#log-follow").checked,
        previous: $("#log-previous").checked,
        timestamps: $("#log-ts").checked,
      });
      lws = new WebSocket(wsURL("/ws/logs?" + q));
      state.textContent = t("js.connecting");
      lws.onopen = () => (state.textContent = $("#log-follow").checked ? t("js.following") : "");
      lws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.t === "line") addLine(m.s);
        else if (m.t === "follow") state.textContent = t("js.following");
        else if (m.t === "wait") state.textContent = m.s; // not started yet: the server waits for it
        else if (m.t === "restart") {
          addLine(m.s); // a new instance of the container: its log goes on below
          logOut.lastElementChild.classList.add("restart");
        } else if (m.t === "error" || m.t === "end") {
          state.textContent = m.t === "end" ? t("js.end_of_log") : m.s;
          lws.close(); // the server waits for the page to close (see awaitPeerClose)
        }
      };
      lws.onclose = () => {
        if (state.textContent === t("js.following")) state.textContent = t("js.disconnected");
      };
    };
    ["#log-container", "#log-follow", "#log-previous", "#log-ts"].forEach((s) => $(s).addEventListener("change", start));
    $("#log-wrap").addEventListener("change", (ev) => logOut.classList.toggle("wrapped", ev.target.checked));
    search.addEventListener("input", () => $$(".ll", logOut).forEach((d) => (d.hidden = !match(d.textContent))));
    start();
  }

})();
