// perms.js disables the actions the user's credentials may not do, with the reason as
// the title (the server asked the API with SelfSubjectAccessReview; see web/access.go).
// Rows arrive live, so it re-checks after each batch of changes to the page.
(() => {
  const el = document.getElementById("access");
  if (!el) return;
  let deny = {};
  try { deny = (JSON.parse(el.textContent) || {}).deny || {}; } catch (e) { return; }
  if (!Object.keys(deny).length) return;

  // Which action an element is, as web/access.go's actionNeeds names them.
  const actionOf = (b) => {
    const act = b.dataset.act || "";
    const kindOf = () => (b.dataset.kind || (b.closest("[data-kind]") || {}).dataset?.kind || "");
    if (act === "delete") return "delete:" + kindOf();
    if (act.startsWith("scale")) return "scale:" + kindOf();
    if (act === "cordon") return "cordon";
    if (act === "kill" || act === "probe" || act === "traffic-send" || b.id === "exec-start") return "exec";
    if (act.startsWith("rollout")) return "rollout";
    if (act === "lesson-do" || act === "lesson-reset" || act === "create") return "create";
    if (b.closest("[data-testid=label-editor]")) return "labels";
    if (b.id === "log-follow" || b.id === "log-previous") return "logs";
    return "";
  };
  const nsOf = (b) => b.dataset.ns || (b.closest("[data-ns]") || {}).dataset?.ns || "";

  const apply = () => {
    document.querySelectorAll("[data-act], #exec-start, #log-follow, #log-previous, [data-testid=label-editor] button, [data-testid=label-editor] input").forEach((b) => {
      const d = deny[actionOf(b)];
      if (!d) return;
      const ns = nsOf(b);
      if (ns && (d.allowedIn || []).includes(ns)) return;
      if (b.disabled && b.dataset.denied) return;
      b.disabled = true;
      b.dataset.denied = "true";
      b.classList.add("denied");
      b.title = d.reason;
    });
  };
  apply();
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; apply(); });
  }).observe(document.body, { childList: true, subtree: true });
})();
