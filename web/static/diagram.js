// webkube's animator: the control-plane diagram (SVG) and the stories. Every step the
// server derives from a real watch event arrives here; it joins its story in the list at
// once and plays on the diagram as an arrow, in order, none skipped: a watch notification
// (API server → component) dashed, a write (component → API server) solid, a CRI call
// (kubelet → containerd) dotted, failures red. Pods are tokens that appear at the API
// server, move onto their node when bound, change colour with their phase and leave when
// deleted. In step mode, the action about to happen is drawn as a pulsing ghost arrow.
(function () {
  "use strict";
  const SVGNS = "http://www.w3.org/2000/svg";
  const $ = (s, r) => (r || document).querySelector(s);
  const $$ = (s, r) => Array.from((r || document).querySelectorAll(s));
  const SPEEDS = { slow: 1800, normal: 900, fast: 300 };
  const RUSH = 150; // ms: an arrow shown this long or less is part of a backlog (see rush)
  const W = 420;
  const MAX_NODES = 8; // node boxes drawn; beyond, the last one groups the rest
  // The controller manager's boxes come with the diagram (data-ctrls): one per controller
  // that announces steps, so every step has both ends of its arrow drawn.
  let CTRLS = [
    { id: "replicaset-controller", label: "ReplicaSet" },
    { id: "deployment-controller", label: "Deployment" },
    { id: "garbage-collector", label: "garbage collector" },
    { id: "endpoints-controller", label: "endpoints" },
  ];
  // Components of their own, drawn apart from the controller manager (data-comps): the
  // ingress controller is not one of its controllers.
  let COMPS = [{ id: "ingress-controller", label: "ingress controller" }];
  const st = {
    boxes: {},
    areas: {},
    tokens: new Map(),
    queue: [],
    playing: false,
    timer: 0,
    speed: "normal",
    pending: [],
    toList: [], // parsed steps waiting for their place in the list (see toList)
    arrows: [], // {seq, ts, at}: when each step's arrow was drawn (benchmarks read it)
    played: [], // what was drawn, in order: "n:from→to:style:kind/name" (tests read it)
    drawn: 0,
    story: null,
  };
  try {
    st.speed = localStorage.getItem("wk-speed") || "normal";
  } catch (e) {}
  // soon runs fn once before the next frame (coalescing repeated calls); a tab in the
  // background gets no frames, so there it is a short timer instead.
  const soonFns = new Set();
  function soon(fn) {
    if (soonFns.has(fn)) return;
    soonFns.add(fn);
    const go = () => {
      soonFns.delete(fn);
      fn();
    };
    if (document.hidden || !window.requestAnimationFrame) setTimeout(go, 50);
    else requestAnimationFrame(go);
  }
  // paced(fn) runs fn in an animation frame of its own: no other paced job runs in that
  // frame. The list's new steps (toList) and the tables' new rows (app.js) each restyle, lay
  // out and paint their part of the page; in one frame together they made tasks of 60-100 ms
  // (BenchmarkScale0To100's trace). A job that has more to do asks again: it goes behind the
  // others, so they take turns.
  const pacedJobs = [];
  let pacedAsked = false;
  function paced(fn) {
    if (!pacedJobs.includes(fn)) pacedJobs.push(fn);
    if (pacedAsked) return;
    pacedAsked = true;
    // A tab in the background gets no frames: a short timer there.
    if (document.hidden || !window.requestAnimationFrame) setTimeout(runPaced, 50);
    else requestAnimationFrame(runPaced);
  }
  function runPaced() {
    pacedAsked = false;
    const fn = pacedJobs.shift();
    if (pacedJobs.length) paced(pacedJobs[0]);
    if (fn) fn();
  }
  // L: the diagram's words in the page's language (data-i18n on #diagram), English until
  // the diagram is mounted.
  let L = { client: "you: kubectl / UI", ctrlmgr: "controller manager", pool: "pods without a node", nonodes: "no nodes yet",
    you: "you", queued: "%d queued", replay: "Replay", steps: "%d steps", step: "1 step", next: "Next" };
  const fmt = (s, n) => String(s).replace("%d", n);
  const circled = (n) => (n >= 1 && n <= 20 ? String.fromCharCode(0x2460 + n - 1) : "·");

  // ---- drawing helpers ----
  function el(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, cls) {
    const t = el("text", { x: x, y: y, class: cls || "" }, parent);
    t.textContent = s;
    return t;
  }
  function box(g, id, x, y, w, h, label, cls) {
    const r = el("rect", { x: x, y: y, width: w, height: h, rx: 6, class: "dg-box " + (cls || ""), "data-box": id }, g);
    text(g, x + w / 2, y + Math.min(h / 2 + 4, 15), label, "dg-label");
    st.boxes[id] = { x: x, y: y, w: w, h: h, r: r };
    return r;
  }

  // ctrlBox draws one controller's box. A label too wide for it (about 5.4 units a letter)
  // goes on two lines at its space when the box is tall enough, and a line still too wide
  // is narrowed to fit.
  function ctrlBox(g, c, x, y, w, h, cls) {
    const r = el("rect", { x: x, y: y, width: w, height: h, rx: 4, class: "dg-box " + (cls || "ctrl"), "data-box": c.id }, g);
    st.boxes[c.id] = { x: x, y: y, w: w, h: h, r: r };
    const fits = (s) => s.length * 5.4 <= w - 6;
    const lines = fits(c.label) || c.label.indexOf(" ") < 0 || h < 18 ? [c.label] : c.label.split(" ", 2);
    lines.forEach((s, i) => {
      const t = text(g, x + w / 2, y + h / 2 + 3 + (i - (lines.length - 1) / 2) * 8, s, "dg-label dg-ctrl");
      if (!fits(s)) {
        t.setAttribute("textLength", w - 6);
        t.setAttribute("lengthAdjust", "spacingAndGlyphs");
      }
    });
  }

  // ---- layout: the components as the notes draw them ----
  function mount() {
    const d = $("#diagram");
    const svg = d && $("svg", d);
    if (!svg) return;
    let nodes = [],
      pods = [];
    try {
      nodes = JSON.parse(d.dataset.nodes || "[]") || [];
      pods = JSON.parse(d.dataset.pods || "[]") || [];
      if (d.dataset.ctrls) CTRLS = JSON.parse(d.dataset.ctrls) || CTRLS;
      if (d.dataset.comps) COMPS = JSON.parse(d.dataset.comps) || COMPS;
      L = Object.assign(L, JSON.parse(d.dataset.i18n || "{}"));
    } catch (e) {}
    svg.textContent = "";
    st.boxes = {};
    st.areas = {};
    st.tokens = new Map();
    const defs = el("defs", {}, svg);
    for (const k of ["watch", "write", "cri", "fail", "held"]) {
      const m = el("marker", { id: "dg-head-" + k, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", class: "dg-head " + k }, m);
    }
    const g = el("g", { class: "dg-static" }, svg);
    box(g, "client", 6, 6, 112, 34, L.client, "client");
    box(g, "scheduler", 6, 88, 112, 34, "scheduler", "sched");
    // Between the client and the scheduler, outside the controller manager's group.
    const cw = (112 - (COMPS.length - 1) * 4) / Math.max(1, COMPS.length);
    COMPS.forEach((c, i) => ctrlBox(g, c, 6 + i * (cw + 4), 50, cw, 26, "comp"));
    box(g, "apiserver", 150, 26, 90, 58, "API server", "api");
    el("ellipse", { cx: 195, cy: 66, rx: 22, ry: 5, class: "dg-db" }, g);
    text(g, 195, 79, "SQLite", "dg-small");
    // The controller manager: its controllers in two columns, the busiest on the left.
    el("rect", { x: 278, y: 6, width: 136, height: 128, rx: 8, class: "dg-group" }, g);
    text(g, 346, 19, L.ctrlmgr, "dg-small");
    const crows = Math.ceil(CTRLS.length / 2),
      rh = Math.min(27, 110 / crows);
    CTRLS.forEach((c, i) => ctrlBox(g, c, 282 + Math.floor(i / crows) * 65, 24 + (i % crows) * rh, 63, rh - 3));
    st.areas[""] = { x: 146, y: 92, w: 120, h: 44 };
    el("rect", { x: 146, y: 92, width: 120, height: 44, rx: 6, class: "dg-pool" }, g);
    text(g, 206, 132, L.pool, "dg-small");
    // Beyond MAX_NODES the last box stands for the rest ("+42 nodes"): their kubelets'
    // arrows end on it and their pods are counted in it, so a big cluster's diagram stays
    // the size of a small one's.
    const shown = nodes.length > MAX_NODES ? nodes.slice(0, MAX_NODES - 1) : nodes;
    const rest = nodes.slice(shown.length);
    const per = Math.max(1, Math.min(4, nodes.length || 1));
    const rows = Math.max(1, Math.ceil((shown.length + (rest.length ? 1 : 0)) / per));
    const nw = (W - 12 - (per - 1) * 6) / per;
    const nodeBox = (i, n, label, attrs) => {
      const x = 6 + (i % per) * (nw + 6);
      const y = 146 + Math.floor(i / per) * 122;
      el("rect", Object.assign({ x: x, y: y, width: nw, height: 116, rx: 8, class: "dg-node" }, attrs), g);
      text(g, x + nw / 2, y + 13, label, "dg-small dg-nodename");
      box(g, "kubelet/" + n, x + 5, y + 18, nw - 10, 22, "kubelet", "kubelet");
      box(g, "containerd/" + n, x + 5, y + 44, nw - 10, 22, "containerd", "ctrd");
      st.areas[n] = { x: x + 4, y: y + 70, w: nw - 8, h: 44 };
    };
    shown.forEach((n, i) => nodeBox(i, n, n, { "data-node": n }));
    if (rest.length) {
      const id = "+" + rest.length;
      nodeBox(shown.length, id, (L.group || "+%d nodes").replace("%d", rest.length), { "data-node-group": rest.length, "data-testid": "node-group" });
      const r = $('[data-node-group]', g);
      const tt = el("title", {}, r);
      tt.textContent = (L.grouptitle || "%d more nodes").replace("%d", rest.length) + ": " + rest.join(", ");
      for (const n of rest) {
        st.areas[n] = st.areas[id];
        st.boxes["kubelet/" + n] = st.boxes["kubelet/" + id];
        st.boxes["containerd/" + n] = st.boxes["containerd/" + id];
      }
    }
    if (!nodes.length) text(g, W / 2, 166, L.nonodes, "dg-small");
    const H = 146 + rows * 122 + 2;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    st.arrowLayer = el("g", { class: "dg-arrows" }, svg);
    st.tokenLayer = el("g", { class: "dg-tokens" }, svg);
    st.ghostLayer = el("g", { class: "dg-ghost" }, svg);
    for (const p of pods) setToken(p.ns, p.name, p.node, p.phase, true);
    layoutTokens();
    held();
    // The tour outlines boxes of the diagram drawn here: it puts them back on this.
    document.dispatchEvent(new Event("wk:diagram"));
  }

  // ---- tokens ----
  function setToken(ns, name, node, phase, quiet) {
    const key = ns + "/" + name;
    let t = st.tokens.get(key);
    if (phase === "Gone") {
      if (t) {
        st.tokens.delete(key);
        const g = t.g;
        if (g) g.classList.add("leaving");
        if (g) setTimeout(() => g.remove(), 600);
        if (!quiet) soon(layoutTokens);
      }
      return;
    }
    if (!t) {
      t = { key: key, g: null, node: "", phase: "" };
      if (!quiet) tokenEl(t); // it appears at the API server and moves to its place
      st.tokens.set(key, t);
    }
    let moved = t.phase === "";
    if (node !== undefined && node !== null && node !== t.node && (node === "" || st.areas[node])) {
      t.node = node;
      moved = true;
    }
    if (phase && phase !== t.phase) {
      t.phase = phase;
      if (t.g) t.g.setAttribute("data-phase", phase);
    }
    // Only a pod that appeared or changed place moves the grid; a colour change does not.
    if (!quiet && moved) soon(layoutTokens);
  }
  // A token's element; only the tokens that fit in their area have one, so thousands of
  // pods cost the page a few hundred elements.
  function tokenEl(t) {
    const g = (t.g = el("g", { class: "dg-token", "data-pod": t.key }, st.tokenLayer));
    el("circle", { r: 5.5 }, g);
    const tt = el("title", {}, g);
    tt.textContent = t.key;
    if (t.phase) g.setAttribute("data-phase", t.phase);
    // Appear at the API server: that is where every pod is first written.
    const a = st.boxes.apiserver;
    g.style.transform = "translate(" + (a.x + a.w / 2) + "px," + (a.y + a.h / 2) + "px)";
    t.at = "";
  }
  // Tokens sit in their node's area (or the API server's pool) in a grid; beyond what
  // fits, a "+N" says how many more. Grouped nodes share one area.
  function layoutTokens() {
    const by = new Map();
    for (const [, t] of st.tokens) {
      const a = st.areas[t.node] || st.areas[""];
      if (!by.has(a)) by.set(a, []);
      by.get(a).push(t);
    }
    $$(".dg-more", st.tokenLayer).forEach((e) => e.remove());
    for (const [a, ts] of by) {
      const cols = Math.max(1, Math.floor((a.w - 4) / 13));
      const fit = cols * Math.max(1, Math.floor((a.h - 4) / 13));
      ts.forEach((t, i) => {
        if (i >= fit) {
          if (t.g) t.g.remove();
          t.g = null;
          return;
        }
        if (!t.g) tokenEl(t);
        // Write only what changed: a style write restyles the token (and restarts its move).
        const at = "translate(" + (a.x + 8 + (i % cols) * 13) + "px," + (a.y + 8 + Math.floor(i / cols) * 13) + "px)";
        if (t.at !== at) t.g.style.transform = t.at = at;
      });
      if (ts.length > fit) text(st.tokenLayer, a.x + a.w - 4, a.y + a.h - 3, "+" + (ts.length - fit), "dg-small dg-more").setAttribute("text-anchor", "end");
    }
  }

  // ---- arrows ----
  function edge(b, tx, ty) {
    const cx = b.x + b.w / 2,
      cy = b.y + b.h / 2;
    const dx = tx - cx,
      dy = ty - cy;
    if (!dx && !dy) return [cx, cy];
    const s = Math.min(dx ? b.w / 2 / Math.abs(dx) : Infinity, dy ? b.h / 2 / Math.abs(dy) : Infinity);
    return [cx + dx * s, cy + dy * s];
  }
  function arrowPath(from, to) {
    const a = st.boxes[from],
      b = st.boxes[to];
    if (!a || !b) return null;
    if (from === to) {
      const x = a.x + a.w,
        y = a.y + 10;
      return { d: "M" + x + "," + y + " c 24,-10 24,30 0,20", mx: x + 18, my: y + 10 };
    }
    const [x1, y1] = edge(a, b.x + b.w / 2, b.y + b.h / 2);
    const [x2, y2] = edge(b, a.x + a.w / 2, a.y + a.h / 2);
    return { d: "M" + x1 + "," + y1 + " L" + x2 + "," + y2, mx: (x1 + x2) / 2, my: (y1 + y2) / 2 };
  }
  function drawArrow(layer, s, cls, dur) {
    const p = arrowPath(s.from, s.to);
    if (!p) return null;
    const kind = cls === "held" ? "held" : s.fail ? "fail" : s.style || "write";
    const g = el("g", { class: "dg-arrow " + (s.style || "write") + " " + (s.fail ? "fail " : "") + cls, "data-from": s.from, "data-to": s.to, "data-n": s.n, "data-style": s.style || "write", "data-testid": "arrow" }, layer);
    const path = el("path", { d: p.d, "marker-end": "url(#dg-head-" + kind + ")" }, g);
    // A moving dot shows the direction; in a backlog (an arrow every 40 ms) it would be
    // gone before the eye found it, and each of its frames repaints the diagram.
    if (cls !== "held" && dur > RUSH) {
      const dot = el("circle", { r: 3.5, class: "dg-dot" }, g);
      el("animateMotion", { dur: Math.max(0.15, (dur * 0.7) / 1000) + "s", path: p.d, fill: "freeze" }, dot);
    }
    const you = s.flow === "you";
    const n = you ? L.you : circled(Number(s.n));
    el("circle", { cx: p.mx, cy: p.my, r: you ? 11 : 8, class: "dg-num-bg" }, g);
    text(g, p.mx, p.my + 4, n, "dg-num");
    return g;
  }
  function light(ids) {
    $$(".dg-box.active").forEach((b) => b.classList.remove("active"));
    for (const id of ids) {
      const b = st.boxes[id];
      if (b) b.r.classList.add("active");
    }
  }

  // ---- steps and the queue ----
  function stepOf(li) {
    const d = li.dataset;
    return {
      seq: Number(d.seq),
      flow: d.flow,
      n: Number(d.n),
      from: d.from,
      to: d.to,
      style: d.style,
      fail: d.fail === "true",
      reason: d.reason,
      phase: d.phase,
      kind: d.kind,
      ns: d.ns,
      name: d.name,
      node: d.node,
      story: d.story,
      title: ($(".st-title", li) || {}).textContent || "",
    };
  }
  function sayStep(s) {
    return (s.fail ? "✗ " : "") + (s.flow === "you" ? L.you + " · " : circled(s.n) + " ") + s.title + " — " + s.kind + "/" + s.name + (s.node ? " → " + s.node : "");
  }
  function play(s, dur) {
    const old = $$(".dg-arrow.now", st.arrowLayer);
    old.forEach((a) => a.classList.replace("now", "past"));
    $$(".dg-arrow.past", st.arrowLayer)
      .slice(0, -2)
      .forEach((a) => a.remove());
    drawArrow(st.arrowLayer, s, "now", dur);
    light([s.from, s.to]);
    if (s.kind === "Pod" && s.phase) setToken(s.ns, s.name, s.node || "", s.phase);
    const m = $("#diagram-msg");
    if (m && !$(".held-step")) {
      m.textContent = sayStep(s);
      m.classList.toggle("bad", !!s.fail);
    }
    st.drawn++;
    st.played.push((s.flow === "you" ? "you" : s.n) + ":" + s.from + "→" + s.to + ":" + (s.fail ? "fail" : s.style) + ":" + s.kind + "/" + s.name);
    if (st.played.length > 5000) st.played.splice(0, 2500);
    if (s.ts) {
      st.arrows.push({ seq: s.seq, ts: s.ts, at: Date.now() });
      if (st.arrows.length > 20000) st.arrows.splice(0, 10000);
    }
  }
  // A lone new step does not wait for the previous arrow's full time: once that one has
  // been seen (MIN_SHOW), the new one is drawn at once. Bursts still queue.
  const MIN_SHOW = 120;
  function enqueue(s) {
    st.queue.push(s);
    if (!st.playing) playNext();
    else if (st.queue.length === 1) {
      // A lone follower waits only until the arrow before it has been seen (it waited the
      // arrow's whole time, up to 1.8 s: most of the benchmark's p99).
      clearTimeout(st.timer);
      const wait = MIN_SHOW - (Date.now() - st.startedAt);
      if (wait <= 0) playNext();
      else {
        st.timer = setTimeout(playNext, wait);
        queueLabel();
      }
    } else queueLabel();
  }
  // Steps play one after another so the eye can follow; a backlog plays faster, but
  // every step is still drawn.
  function playNext() {
    const s = st.queue.shift();
    if (!s) {
      st.playing = false;
      rush(false);
      queueLabel();
      return;
    }
    st.playing = true;
    const base = SPEEDS[st.speed] || SPEEDS.normal;
    const n = st.queue.length;
    let dur = n > 50 ? Math.min(base, 40) : n > 10 ? Math.min(base, 150) : base;
    // In step mode each Next releases one action: show it at once, not after a queue.
    if (document.body.classList.contains("stepping")) dur = Math.min(dur, 400);
    rush(dur <= RUSH);
    play(s, dur);
    st.startedAt = Date.now();
    queueLabel();
    st.timer = setTimeout(playNext, dur);
  }
  // rush: while a backlog plays (each arrow shown RUSH ms or less), the diagram changes
  // without transitions (boxes light, tokens move and arrows march at once): every step
  // is still drawn, but a frame is painted only when something changes, not 60 a second
  // for glides nobody can follow at that pace (the longest tasks of a scale to 100 pods).
  function rush(on) {
    const svg = st.arrowLayer && st.arrowLayer.ownerSVGElement;
    if (svg && svg.classList.contains("rush") !== on) svg.classList.toggle("rush", on);
  }
  function queueLabel() {
    const q = $("#anim-queue");
    if (q) q.textContent = st.queue.length ? fmt(L.queued, st.queue.length) : "";
  }

  // ---- stories ----
  function objKey() {
    const o = $("#object");
    if (!o) return null;
    return { key: o.dataset.kind + "/" + (o.dataset.ns === "_" ? "" : o.dataset.ns || "") + "/" + o.dataset.name, kind: o.dataset.kind, name: o.dataset.name };
  }
  const obj = objKey();
  function mine(li) {
    if (!obj) return true;
    const d = li.dataset;
    if (obj.kind === "Node") return d.node === obj.name;
    return d.obj === obj.key || d.owner === obj.key;
  }
  function storyFor(li, list) {
    const id = li.dataset.story || "0";
    let sec = document.getElementById("story-" + id);
    if (sec) return sec;
    sec = document.createElement("details");
    sec.className = "story";
    sec.id = "story-" + id;
    sec.dataset.story = id;
    sec.dataset.testid = "story";
    sec.setAttribute("data-testid", "story");
    sec.hidden = !!obj;
    const sum = document.createElement("summary");
    const t = document.createElement("span");
    t.className = "story-title";
    t.textContent = li.dataset.storyTitle || "steps";
    const c = document.createElement("span");
    c.className = "story-count muted";
    const b = document.createElement("button");
    b.className = "small replay";
    b.type = "button";
    b.textContent = L.replay;
    b.setAttribute("data-testid", "replay");
    sum.append(t, c, b);
    const ol = document.createElement("ol");
    ol.className = "steps";
    sec.append(sum, ol);
    list.appendChild(sec);
    return sec;
  }
  // place puts a step into its story, ordered by resourceVersion (the store's revision),
  // which undoes the reordering of separate watches.
  function place(li, list, live) {
    const sec = storyFor(li, list);
    const ol = $("ol", sec);
    const rv = Number(li.dataset.rv);
    let before = null;
    if (rv) {
      for (let c = ol.lastElementChild; c; c = c.previousElementSibling) {
        const crv = Number(c.dataset.rv);
        if (!crv || crv <= rv) break;
        before = c;
      }
    }
    ol.insertBefore(li, before);
    // data-n is how many steps the story has, shown or not (a folded story's were not sent).
    if (live) sec.dataset.n = Number(sec.dataset.n || 0) + 1;
    if (mine(li)) sec.hidden = false;
    if (live && st.story !== sec) {
      // A new story plays: the older ones fold (and can be replayed).
      if (!sec.open) {
        $$("details.story[open]", list).forEach((o) => (o.open = false));
        sec.open = true;
      }
      st.story = sec;
    }
    return sec;
  }
  function count(sec) {
    const n = Math.max(Number(sec.dataset.n || 0), $("ol", sec).children.length);
    $(".story-count", sec).textContent = n === 1 ? L.step : fmt(L.steps, n);
  }
  function trim(list) {
    if (list.getElementsByTagName("li").length <= 300) return;
    let all = $$("li.step", list);
    for (let i = 0; i < all.length - 300; i++) {
      const sec = all[i].closest(".story");
      all[i].remove();
      // The server still has them: opening the story fetches them again.
      if (sec) sec.dataset.more = "";
    }
  }
  // Incoming steps are parsed in batches, however many arrive, and their arrows queued at
  // once. A lone step (none flushed for a while) is parsed in its own message's task: behind
  // a timer it waited for the table rows its change brought (sent after it) and, often, a
  // frame that laid out and painted them.
  const LONE = 100; // ms since the last flush after which a step is taken as lone
  let lastFlush = 0;
  function step(m) {
    st.pending.push(m);
    if (st.pending.length !== 1) return;
    // One task takes every message that arrived meanwhile (no animation frame: a tab in
    // the background gets none, and its diagram must still keep up).
    if (performance.now() - lastFlush > LONE) flush();
    else setTimeout(flush, 0);
  }
  // Up to 25 parsed per task: a burst (scaling to 100 pods) does not block the page.
  const PER_TASK = 25;
  function flush() {
    lastFlush = performance.now();
    const batch = st.pending.splice(0, PER_TASK);
    if (st.pending.length) setTimeout(flush, 0);
    // One parse for the batch (one per step was most of a burst's flush), then the arrows
    // (they are what the learner watches); the list takes them a few a frame (toList).
    const fresh = batch.filter((m) => m.html && !document.getElementById("step-" + m.step.seq));
    const sent = new Map(fresh.map((m) => [String(m.step.seq), m.ts]));
    const t = document.createElement("template");
    t.innerHTML = fresh.map((m) => m.html.trim()).join("");
    const lis = Array.from(t.content.children).filter((li) => li.tagName === "LI");
    for (const li of lis) {
      if (!mine(li)) continue;
      const s = stepOf(li);
      s.ts = sent.get(li.dataset.seq);
      enqueue(s);
    }
    if (!$("#steps")) return;
    for (const li of lis) st.toList.push(li);
    paced(toList);
  }
  // toList puts a few waiting steps into the list each frame, in order. Each step is a dozen
  // boxes to style and lay out: the 25-100 a burst put in at once made frames of 50-250 ms
  // (BenchmarkScale0To100's trace), most of the page's long tasks. Six a frame still took
  // 11 ms of CPU a frame, and a frame's CPU is stretched three or four times while the cluster
  // makes 100 pods on the same cores: three a frame take 7-9 ms, and even at 20 frames a
  // second the list stays ahead of the arrows (a backlog draws one each 40 ms). A background
  // tab gets no frames: there paced is a short timer, and the list still keeps up.
  const LIST_PER_FRAME = 3;
  function toList() {
    const list = $("#steps");
    const lis = st.toList.splice(0, LIST_PER_FRAME);
    if (st.toList.length) paced(toList);
    if (!list) return;
    const touched = new Set();
    for (const li of lis) if (!document.getElementById(li.id)) touched.add(place(li, list, true));
    touched.forEach(count);
    trim(list);
    // Following the end here lays out what the frame lays out anyway: no extra layout.
    follow();
  }
  // follow keeps the list at its end unless the learner scrolled up.
  function follow() {
    const list = $("#steps");
    if (!list || list.dataset.userScrolled) return;
    const end = list.scrollHeight - list.clientHeight;
    if (end > list.scrollTop + 1) {
      st.ownScroll = true;
      list.scrollTop = end;
    }
  }
  // reset takes a fresh list of stories (a page load or reconnect): one summary per story,
  // only the newest with its latest steps (see storiesHTML in web/storysnap.go). The newest
  // story is open, older ones folded. Nothing is animated.
  function reset() {
    const list = $("#steps");
    if (!list) return;
    st.toList = []; // the fresh list has them
    st.story = null;
    const secs = $$("details.story", list);
    secs.forEach(count);
    const visible = secs.filter((s) => !s.hidden);
    if (visible.length) {
      const last = visible[visible.length - 1];
      last.dataset.noload = ""; // opened here with its newest steps: no fetch of the rest
      last.open = true;
      st.story = last;
    }
    list.scrollTop = list.scrollHeight;
  }
  // load fetches the steps of a story the snapshot sent folded (or in part) and puts the
  // ones not on the page yet in their place.
  function load(sec) {
    if (!sec || !("more" in sec.dataset)) return Promise.resolve();
    if (sec.loading) return sec.loading;
    const list = $("#steps");
    sec.loading = fetch("/ui/story/" + sec.dataset.story, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText))))
      .then((h) => {
        const t = document.createElement("template");
        t.innerHTML = h;
        for (const li of Array.from(t.content.querySelectorAll("li.step"))) {
          if (!document.getElementById(li.id)) place(li, list, false);
        }
        delete sec.dataset.more;
        const b = $(".more-steps", sec);
        if (b) b.remove();
        count(sec);
      })
      .catch(() => {})
      .finally(() => (sec.loading = null));
    return sec.loading;
  }
  function replay(sec) {
    if ("more" in sec.dataset) {
      load(sec).then(() => replay2(sec));
      return;
    }
    replay2(sec);
  }
  function replay2(sec) {
    clearTimeout(st.timer);
    st.queue = [];
    st.playing = false;
    $$("li.step", sec).forEach((li) => st.queue.push(stepOf(li)));
    $$(".story.replaying").forEach((s) => s.classList.remove("replaying"));
    sec.classList.add("replaying");
    playNext();
  }

  // ---- step mode: the action about to happen ----
  function held() {
    if (!st.ghostLayer) return;
    st.ghostLayer.textContent = "";
    $$(".dg-box.held").forEach((b) => b.classList.remove("held"));
    const h = $(".held-step");
    const m = $("#diagram-msg");
    if (!h) {
      if (m && m.classList.contains("pending")) {
        m.textContent = "";
        m.classList.remove("pending");
      }
      return;
    }
    const d = h.dataset;
    drawArrow(st.ghostLayer, { from: d.from, to: d.to, style: d.style, n: d.n, flow: d.flow }, "held", 0);
    const who = d.from === "apiserver" ? d.to : d.from;
    if (st.boxes[who]) st.boxes[who].r.classList.add("held");
    if (m) {
      m.textContent = L.next + " " + circled(Number(d.n)) + ": " + (($(".held-say", h) || {}).textContent || "");
      m.classList.add("pending");
      m.classList.remove("bad");
    }
  }

  // ---- controls ----
  function setSpeed(v) {
    st.speed = SPEEDS[v] ? v : "normal";
    const sel = $("#anim-speed");
    if (sel) sel.value = st.speed;
    try {
      localStorage.setItem("wk-speed", st.speed);
    } catch (e) {}
  }
  document.addEventListener("change", (ev) => {
    if (ev.target.id === "anim-speed") setSpeed(ev.target.value);
  });
  document.addEventListener("click", (ev) => {
    const m = ev.target.closest(".more-steps");
    if (m) load(m.closest(".story"));
    const b = ev.target.closest(".replay");
    if (!b) return;
    ev.preventDefault();
    replay(b.closest(".story"));
  });
  // A folded story's steps are fetched when it opens (toggle does not bubble: caught on its
  // way down), except the newest, which came with its latest steps.
  document.addEventListener(
    "toggle",
    (ev) => {
      const sec = ev.target;
      if (!sec.classList || !sec.classList.contains("story") || !sec.open) return;
      if ("noload" in sec.dataset) {
        delete sec.dataset.noload;
        return;
      }
      load(sec);
    },
    true
  );
  // The list follows its end until the learner scrolls up. A scroll the list made itself
  // (follow) is not looked at: reading its heights there laid the page out once more.
  const list0 = $("#steps");
  if (list0)
    list0.addEventListener("scroll", () => {
      if (st.ownScroll) {
        st.ownScroll = false;
        return;
      }
      const atEnd = list0.scrollTop + list0.clientHeight >= list0.scrollHeight - 8;
      if (atEnd) delete list0.dataset.userScrolled;
      else list0.dataset.userScrolled = "1";
    });
  // On a phone the pinned diagram is fixed at the top; the page starts below it.
  const pin = $("#anim-pin");
  // Written only when it changes: a custom property on the root restyles the whole page,
  // and the pin resizes with every message under the diagram.
  // Only where the pin is fixed (the width style.css fixes it at): on a desktop the pin
  // grows with each message of three lines, and each write restyled the whole page there
  // for nothing.
  let pinH = "";
  const narrow = window.matchMedia ? window.matchMedia("(max-width: 1100px)") : { matches: true };
  if (pin && window.ResizeObserver)
    new ResizeObserver((es) => {
      const h = narrow.matches ? Math.round(es[0].borderBoxSize ? es[0].borderBoxSize[0].blockSize : pin.offsetHeight) + "px" : "";
      if (h === pinH) return;
      pinH = h;
      if (h) document.documentElement.style.setProperty("--pin-h", h);
      else document.documentElement.style.removeProperty("--pin-h");
    }).observe(pin);

  setSpeed(st.speed);
  mount();
  reset();
  window.wkDiagram = { paced: paced, step: step, reset: reset, mount: mount, held: held, replay: replay, load: load, setSpeed: setSpeed, state: st };
})();
