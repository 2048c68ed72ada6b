// The home page: JupyterHub's home.js drives the Start/Stop/Delete buttons (it shows and hides them with the
// `hidden` class); this keeps each row's state badge, and the notes only a running server has, in step with them,
// without a reload.
/* global require */
require(["home"]);

(function () {
  "use strict";
  function show(row) {
    const badge = row.querySelector(".paved-state");
    const stop = row.querySelector(".stop-server");
    if (!badge || !stop) return;
    const busy = stop.hasAttribute("disabled");
    const running = !stop.classList.contains("hidden");
    const state = busy ? (running ? "stopping" : "starting") : running ? "running" : "stopped";
    if (badge.dataset.state === state) return;
    badge.dataset.state = state;
    badge.textContent = state;
    badge.className = "paved-state badge " + ({running: "text-bg-success", stopped: "text-bg-secondary"}[state]
      || "text-bg-warning");
    if (state === "stopped") {
      // what only a running server has (its memory limit, when it started) goes with it, as after a reload
      row.querySelectorAll(".paved-mem-limit").forEach(function (note) { note.hidden = true; });
      const started = row.querySelector(".time-col");
      if (started) started.textContent = "\u2014";
    }
  }
  function watch() {
    document.querySelectorAll("tr.home-server-row").forEach(function (row) {
      new MutationObserver(function () { show(row); }).observe(row, {
        subtree: true, attributes: true, attributeFilter: ["class", "disabled"],
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();
