// Object page tools (web/rollout, web/traffic): rollout undo and pause, and sending
// requests to a Service. Uses app.js's wk.post (CSRF, toasts) and wk.t (catalogue).
(function () {
  "use strict";
  const post = (url, body) => window.wk.post(url, body);
  const t = (k, ...a) => (window.wk && window.wk.t ? window.wk.t(k, ...a) : k);

  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("[data-act]");
    if (!b) return;
    const act = b.dataset.act;
    try {
      if (act === "rollout-undo") {
        b.disabled = true;
        await post("/ui/rollout/undo", { namespace: b.dataset.ns, name: b.dataset.name, revision: Number(b.dataset.rev || 0) });
      } else if (act === "rollout-pause") {
        b.disabled = true;
        await post("/ui/rollout/pause", { namespace: b.dataset.ns, name: b.dataset.name, on: b.dataset.on === "true" });
      } else if (act === "traffic-send") {
        await send(b);
      }
    } catch (e) {
      /* app.js showed the error */
    } finally {
      if (act === "rollout-undo" || act === "rollout-pause") b.disabled = false;
    }
  });

  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

  // send asks the server to send N requests to the Service from a pod, then draws one
  // bar per ready pod with the connections the service proxy gave it.
  async function send(b) {
    const box = document.getElementById("traffic-result");
    const n = Number((document.getElementById("traffic-n") || {}).value || 10);
    b.disabled = true;
    box.dataset.state = "sending";
    box.innerHTML = '<p class="muted">' + esc(t("traffic.sending", n)) + "</p>";
    let r;
    try {
      r = await post("/ui/traffic/send", { namespace: b.dataset.ns, name: b.dataset.name, n: n });
    } catch (e) {
      box.dataset.state = "error";
      box.innerHTML = '<p class="gone">' + esc(e.message) + "</p>";
      return;
    } finally {
      b.disabled = false;
    }
    box.innerHTML = r.html;
    box.dataset.state = "done";
  }

  // NodePorts listen on this machine: a link names it as the page reached it. The live
  // head of the traffic card comes from the hub, which does not know that address.
  function nodePortLinks() {
    document.querySelectorAll("a[data-nodeport]").forEach((a) => {
      const url = "http://" + location.hostname + ":" + a.dataset.nodeport + "/";
      if (a.getAttribute("href") !== url) {
        a.setAttribute("href", url);
        a.textContent = url;
      }
    });
  }
  const head = document.getElementById("traffic-head");
  if (head) {
    nodePortLinks();
    new MutationObserver(nodePortLinks).observe(head, { childList: true });
  }
})();
