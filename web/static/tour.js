// The first-visit tour: names each box of the "How it happens" diagram in turn and
// outlines it. Closing it (or finishing) is remembered in localStorage; the help dialog's
// "Take the tour" starts it again.
(function () {
  "use strict";
  const KEY = "wk.tour";
  const tour = document.getElementById("tour");
  // The diagram's element is replaced when the page's live snapshot arrives: look it up.
  const diagram = () => document.getElementById("diagram") || document.createElement("div");
  if (!tour || !document.getElementById("diagram")) return;
  const stops = Array.from(tour.querySelectorAll(".tour-stop"));
  let at = -1;

  // ctrl stands for every controller box (they sit in the controller manager's group).
  function boxes(prefix) {
    const all = Array.from(diagram().querySelectorAll("[data-box]"));
    if (prefix === "ctrl") return all.filter((b) => b.classList.contains("ctrl"));
    return all.filter((b) => b.dataset.box === prefix || (prefix.endsWith("/") && b.dataset.box.startsWith(prefix)) ||
      (prefix === "kubelet/" && b.dataset.box.startsWith("containerd/")));
  }
  // The diagram redraws itself on changes (it says so with wk:diagram): the outline is put
  // back then. It was put back every half second, reading the page's layout each time,
  // which under a burst of steps was a forced layout of the whole page twice a second.
  // Classes are written only where they change: each write restyles the diagram.
  function outline() {
    const on = new Set(at >= 0 ? boxes(stops[at].dataset.box) : []);
    for (const b of diagram().querySelectorAll(".tour-on")) if (!on.has(b)) b.classList.remove("tour-on");
    for (const b of on) if (!b.classList.contains("tour-on")) b.classList.add("tour-on");
    if (at >= 0) keepInView();
  }
  // In a short window the pinned column scrolls within itself (the stories keep their
  // third): scroll it, never the page, so the card stays in view as the stories grow.
  function keepInView() {
    const pin = tour.closest(".anim-pin");
    if (!pin || pin.scrollHeight <= pin.clientHeight) return;
    const p = pin.getBoundingClientRect(), r = tour.getBoundingClientRect();
    if (r.bottom > p.bottom) pin.scrollTop += Math.min(r.bottom - p.bottom, r.top - p.top);
  }
  function show(i) {
    // Right under the diagram it names (the layout renders it at the end of the column);
    // on a phone the diagram is a small pinned band, so the tour opens the page instead.
    const d = document.getElementById("diagram");
    const main = document.getElementById("main");
    if (window.matchMedia("(max-width: 600px)").matches && main) {
      if (main.firstElementChild !== tour) main.prepend(tour);
    } else if (d && d.nextElementSibling !== tour) d.after(tour);
    at = Math.max(0, Math.min(stops.length - 1, i));
    stops.forEach((s, j) => (s.hidden = j !== at));
    tour.querySelector("[data-tour=back]").disabled = at === 0;
    tour.querySelector("[data-tour=next]").textContent = at === stops.length - 1 ? tour.dataset.done : tour.dataset.next;
    tour.hidden = false;
    tour.dataset.at = String(at + 1);
    outline();
  }
  function close() {
    tour.hidden = true;
    at = -1;
    outline();
    try { localStorage.setItem(KEY, "done"); } catch (e) { /* private mode: shown again next time */ }
  }
  document.addEventListener("wk:diagram", () => at >= 0 && outline());
  // The card is kept in view when the pinned column (squeezed as the stories grow) or the
  // card changes size: the observer runs after the frame's own layout, so reading it
  // there costs nothing more.
  if (window.ResizeObserver) {
    const ro = new ResizeObserver(() => at >= 0 && keepInView());
    for (const e of [document.getElementById("anim-pin"), tour]) if (e) ro.observe(e);
  }
  tour.dataset.next = tour.querySelector("[data-tour=next]").textContent;
  tour.dataset.done = tour.querySelector("[data-tour=next]").dataset.done;
  tour.addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-tour]");
    if (!b) return;
    if (b.dataset.tour === "back") show(at - 1);
    else if (b.dataset.tour === "next") (at === stops.length - 1 ? close() : show(at + 1));
    else close();
  });
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest("[data-testid=tour-start]")) return;
    const help = document.getElementById("help");
    if (help && help.open) help.close();
    show(0);
  });
  let seen = null;
  try { seen = localStorage.getItem(KEY); } catch (e) { /* as not seen */ }
  if (seen !== "done") show(0);
})();
