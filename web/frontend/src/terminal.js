// The pod page's terminal: xterm.js over the dashboard's exec websocket (/ws/exec), which
// bridges to pods/exec with a TTY. Resizes go to the container as TTY resize messages, so
// full-screen programs (top, vi) draw at the terminal's real size.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";

// The page's catalogue (app.js's wk.t), so the terminal speaks the page's language.
const t = (key, ...args) => (window.wk && window.wk.t ? window.wk.t(key, ...args) : key);

const $ = (s, r) => (r || document).querySelector(s);

function mount() {
  const host = $("#term");
  const objEl = $("#object");
  if (!host || !objEl) return;
  const wk = window.wk || (window.wk = {});
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  const term = new Terminal({
    cursorBlink: true,
    convertEol: false,
    fontSize: 13,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
    scrollback: 5000,
    theme: dark ? { background: "#0b0f14", foreground: "#d8dee9" } : { background: "#10151c", foreground: "#e6edf3" },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(host);
  fit.fit();
  const state = $("#exec-state");
  let ws = null;
  const send = (m) => {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(m));
  };
  const sendSize = () => send({ t: "resize", w: term.cols, h: term.rows });
  term.onData((s) => send({ t: "in", s }));
  term.onResize(sendSize);
  new ResizeObserver(() => {
    try {
      fit.fit();
    } catch (e) {
      /* hidden */
    }
  }).observe(host);

  const connect = () => {
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    term.reset();
    const q = new URLSearchParams({ namespace: objEl.dataset.ns, name: objEl.dataset.name, container: $("#exec-container").value, cmd: $("#exec-cmd").value });
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/exec?" + q);
    ws.binaryType = "arraybuffer";
    state.textContent = t("js.connecting");
    ws.onopen = () => {
      state.textContent = t("js.connected");
      fit.fit();
      sendSize();
      term.focus();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const m = JSON.parse(ev.data);
        if (m.t === "exit") state.textContent = m.s;
        return;
      }
      term.write(new Uint8Array(ev.data));
    };
    ws.onclose = () => {
      if (state.textContent === t("js.connected")) state.textContent = t("js.closed");
    };
  };
  $("#exec-start").addEventListener("click", connect);
  // text() is what the screen shows, for tests and for copying.
  wk.term = {
    term,
    text: () => {
      const b = term.buffer.active;
      const out = [];
      for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
      return out.join("\n");
    },
    screen: () => {
      const b = term.buffer.active;
      const out = [];
      for (let i = 0; i < term.rows; i++) out.push(b.getLine(b.viewportY + i).translateToString(true));
      return out.join("\n");
    },
    send: (s) => send({ t: "in", s }),
  };
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
