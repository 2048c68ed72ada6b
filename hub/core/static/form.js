// The new-notebook form (spawner/form.py renders its HTML and data): fills the choices of the chosen project,
// shows identity and price, checks the name, and shows every invalid field's message next to it.
(function () {
  "use strict";
  const dataNode = document.getElementById("paved-form-data");
  if (!dataNode) return;  // no project to start in: the page says so instead of showing the form
  const data = JSON.parse(dataNode.textContent);
  const $ = (id) => document.getElementById(id);
  const last = data.last || {};
  function fill(select, values, labels, chosen) {
    select.innerHTML = "";
    values.forEach((v) => {
      const o = document.createElement("option");
      o.value = v; o.textContent = labels ? labels(v) : v;
      if (v === chosen) o.selected = true;
      select.appendChild(o);
    });
  }
  function radios(box, name, values, labels, chosen) {
    box.innerHTML = "";
    values.forEach((v, i) => {
      const id = "paved-" + name + "-" + v;
      const div = document.createElement("div");
      div.className = "form-check";
      div.innerHTML = '<input class="form-check-input" type="radio"><label class="form-check-label"></label>';
      const input = div.querySelector("input"), label = div.querySelector("label");
      input.name = name; input.value = v; input.id = id;
      input.checked = chosen ? v === chosen : i === 0;
      label.htmlFor = id; label.textContent = labels[v] || v;
      input.addEventListener("change", update);
      box.appendChild(div);
    });
    if (!box.querySelector("input:checked") && box.querySelector("input")) box.querySelector("input").checked = true;
  }
  const lifecycleLabels = {"spot": "Spot", "on-demand": "On-demand"};
  function lifecycle() { const c = document.querySelector('input[name="lifecycle"]:checked'); return c ? c.value : null; }
  function money(x) { return "$" + x.toFixed(x < 0.1 ? 4 : 3) + "/hour"; }
  function bounds(input, help, b, chosen) {
    input.min = b.min; input.max = b.max;
    const v = Number(chosen);
    input.value = (chosen !== undefined && v >= b.min && v <= b.max) ? v : b.default;
    help.textContent = "Between " + b.min + " and " + b.max + " for this project.";
  }
  function onProject(first) {
    const p = data.projects[$("paved-project").value];
    $("paved-project-help").textContent = p.description || "";
    const envs = p.environment_order || Object.keys(p.environments);  // dev first (keys arrive sorted)
    fill($("paved-environment"), envs, null, first ? last.environment : undefined);
    fill($("paved-instance"), p.instance_types,
         (t) => t + " — " + data.instances[t].describe, first ? last.instance_type : undefined);
    radios($("paved-lifecycles"), "lifecycle", p.lifecycles, lifecycleLabels, first ? last.lifecycle : undefined);
    bounds($("paved-idle"), $("paved-idle-help"), p.idle_minutes, first ? last.idle_minutes : undefined);
    bounds($("paved-disk"), $("paved-disk-help"), p.disk_gb, first ? last.disk_gb : undefined);
    update();
  }
  function update() {
    const p = data.projects[$("paved-project").value];
    const env = p.environments[$("paved-environment").value];
    $("paved-identity").value = env ? env.identity : "";
    const t = data.instances[$("paved-instance").value], lc = lifecycle();
    $("paved-price").textContent = t && lc ? money(t.price[lc]) + " (" + (lifecycleLabels[lc] || lc) + ")" : "";
    // instance labels show the price for the chosen lifecycle
    Array.from($("paved-instance").options).forEach((o) => {
      const it = data.instances[o.value];
      o.textContent = o.value + " — " + it.describe + (lc ? " — " + money(it.price[lc]) : "");
    });
  }
  const form = document.getElementById("spawn_form") || $("paved-form").closest("form");
  const name = $("paved-name");
  const re = new RegExp(data.name_pattern);
  name.value = data.name;
  function checkName() {
    const v = name.value.trim();
    let msg = "";
    if (!re.test(v)) msg = "Use " + data.name_rule + ".";
    else if (v !== data.name && data.taken.includes(v)) msg = "You already have a notebook named " + v + ".";
    name.setCustomValidity(msg);
    $("paved-name-help").textContent = msg || "Part of the notebook's address: /user/…/" + v + "/";
    if (!msg && form) {
      const action = new URL(form.action, location.href); // keeps JupyterHub's ?_xsrf=
      action.pathname = data.spawn_url + encodeURIComponent(v);
      form.action = action.href;
    }
  }
  name.addEventListener("input", checkName);
  fill($("paved-project"), Object.keys(data.projects), null, last.project);
  fill($("paved-python"), data.pythons, null, last.python);
  radios($("paved-interfaces"), "interface", Object.keys(data.interfaces), data.interfaces, last.interface);
  $("paved-project").addEventListener("change", () => onProject(false));
  $("paved-environment").addEventListener("change", update);
  $("paved-instance").addEventListener("change", update);
  onProject(true);
  checkName();

  // A field the browser refuses (out of bounds, empty, bad name) gets its message next to it; one inside the
  // folded "Advanced options" unfolds them first, else Start would do nothing visible. `invalid` does not
  // bubble, hence the capture.
  const helpText = {};
  function helpOf(input) { return document.getElementById(input.id + "-help"); }
  function showInvalid(event) {
    const input = event.target;
    const details = input.closest("details");
    if (details && !details.open) details.open = true;
    const help = helpOf(input);
    if (help) {
      if (!(input.id in helpText)) helpText[input.id] = help.textContent;
      help.textContent = input.validationMessage;
      help.classList.add("paved-error");
    }
    input.classList.add("is-invalid");
  }
  function clearInvalid(event) {
    const input = event.target;
    if (!input.classList.contains("is-invalid") || !input.checkValidity()) return;
    input.classList.remove("is-invalid");
    const help = helpOf(input);
    if (help && input.id in helpText) {
      help.textContent = helpText[input.id];
      help.classList.remove("paved-error");
      delete helpText[input.id];
    }
    if (input === name) checkName();
  }
  if (form) {
    form.addEventListener("invalid", showInvalid, true);
    form.addEventListener("input", clearInvalid);
  }
})();
