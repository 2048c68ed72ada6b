// The Pipelines app's actions: every button calls the pipelines API (the same calls the CLI makes).
(function () {
  "use strict";
  const me = document.getElementById("pipelines-js");
  const prefix = me.dataset.prefix;
  const xsrf = me.dataset.xsrf;

  async function api(method, path, body) {
    const r = await fetch(prefix + path, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { data = { message: "HTTP " + r.status }; }
    if (!r.ok) { throw new Error(data.message || ("HTTP " + r.status)); }
    return data;
  }

  function say(el, text, ok) {
    if (!el) { return; }
    el.textContent = text;
    el.className = "result " + (ok ? "ok" : "error");
  }

  // Typed like the CLI: the server checks again and names the parameter if a value does not fit.
  function typed(input) {
    const text = input.value.trim();
    switch (input.dataset.type) {
      case "int": return /^[+-]?\d+$/.test(text) ? parseInt(text, 10) : text;
      case "float": return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? parseFloat(text) : text;
      case "bool": return { "true": true, "false": false }[text.toLowerCase()] ?? text;
      case "list": try { const v = JSON.parse(text); return Array.isArray(v) ? v : text; }
                   catch (e) { return text.split(",").map((s) => s.trim()).filter(Boolean); }
      default: return text;
    }
  }

  const actions = document.querySelector(".actions");
  if (actions) {
    const result = document.getElementById("action-result");
    const pipe = actions.dataset.project ? `api/pipelines/${encodeURIComponent(actions.dataset.project)}/` +
      `${encodeURIComponent(actions.dataset.name)}` : null;
    actions.addEventListener("click", async (ev) => {
      const button = ev.target.closest("button[data-action]");
      if (!button) { return; }
      const action = button.dataset.action;
      button.disabled = true;
      try {
        if (action === "pause" || action === "resume") {
          await api("POST", `${pipe}/${action}`);
          location.reload();
        } else if (action === "rerun-failed") {
          const r = await api("POST", `${pipe}/rerun-failed`);
          say(result, r.run_ids.length ? `Queued ${r.run_ids.length} failed run(s) again: #${r.run_ids.join(", #")}`
                                       : "No failed runs since the last success.", true);
        } else if (action === "rerun") {
          await api("POST", `api/runs/${actions.dataset.run}/rerun`);
          location.reload();
        } else if (action === "open") {
          say(result, "Starting (or reusing) a notebook server in the run's project…", true);
          const r = await api("POST", `api/runs/${actions.dataset.run}/open`);
          say(result, `Opened in ${r.server}${r.reused ? " (already running)" : ""}.`, true);
          window.open(r.url, "_blank");
        }
      } catch (e) { say(result, e.message, false); }
      button.disabled = false;
    });
    actions.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = ev.target;
      const out = form.querySelector(".result");
      try {
        if (form.dataset.action === "run-now") {
          const parameters = {};
          form.querySelectorAll("input[data-type]").forEach((i) => { if (i.value.trim()) { parameters[i.name] = typed(i); } });
          const r = await api("POST", `${pipe}/runs`, { parameters });
          say(out, "", true);
          const link = document.createElement("a");
          link.href = prefix + `runs/${r.run_id}`;
          link.textContent = `Run #${r.run_id} queued: watch it`;
          out.appendChild(link);
        } else if (form.dataset.action === "backfill") {
          const r = await api("POST", `${pipe}/runs`, { from: form.elements.from.value, to: form.elements.to.value });
          say(out, `${r.ticks} tick(s): ${r.created} queued, ${r.already_claimed} already had a run.`, true);
        }
      } catch (e) { say(out, e.message, false); }
    });
  }

  // Run page: the log with a filter, other attempts' outputs, refresh while the run is not finished.
  const log = document.getElementById("log");
  let logText = "";
  function showLog() {
    const q = (document.getElementById("log-filter") || {}).value || "";
    log.textContent = q ? logText.split("\n").filter((l) => l.toLowerCase().includes(q.toLowerCase())).join("\n") : logText;
  }
  async function loadLog(src) {
    const r = await fetch(src, { credentials: "same-origin", headers: { "X-XSRFToken": xsrf } });
    logText = await r.text();
    showLog();
  }
  if (log) {
    loadLog(log.dataset.src);
    document.getElementById("log-filter").addEventListener("input", showLog);
    document.querySelectorAll(".show-attempt").forEach((a) => a.addEventListener("click", () => {
      const n = a.dataset.attempt;
      const run = document.querySelector(".actions").dataset.run;
      document.getElementById("output-frame").src = `${prefix}runs/${run}/notebook?attempt=${n}`;
      document.getElementById("output-attempt").textContent = `attempt ${n}`;
      loadLog(`${prefix}runs/${run}/log?attempt=${n}`);
    }));
  }
  const status = document.getElementById("run-status");
  if (status && ["queued", "running", "retrying"].includes(status.textContent.trim())) {
    setTimeout(() => location.reload(), 2000);
  }
  // The list refreshes by itself (keeping the filters).
  const list = document.querySelector("table[data-refresh]");
  if (list) {
    setInterval(async () => {
      // JupyterHub asks scripts (not navigations) for the XSRF token even on GET
      const r = await fetch(location.href, { credentials: "same-origin", headers: { "X-XSRFToken": xsrf } });
      if (!r.ok) { return; }
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      for (const id of ["pipelines", "runs"]) {
        const fresh = doc.getElementById(id);
        if (fresh) { document.getElementById(id).replaceWith(fresh); }
      }
      document.getElementById("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
    }, parseInt(list.dataset.refresh, 10) * 1000);
  }
}());
