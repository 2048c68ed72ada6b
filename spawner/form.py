"""The "Create a new notebook" form (JupyterHub's ``Spawner.options_form``).

The form is a convenience over the REST API's options: it offers only what the user may choose (their
projects, each project's environments, instance types and lifecycles, bounds) and shows identity and price,
but every value is validated again on the server (paved.spawner.options). It prefills the user's last
choices, taken from their most recently started notebook.
"""

from __future__ import annotations

import html
import json

from paved.hub.projects import ENVIRONMENTS
from paved.spawner.names import NAME_RE, NAME_RULE
from paved.spawner.options import INTERFACES
from paved.spawner.pricebook import LIFECYCLES, load_pricebook


def last_choices(spawner) -> dict:
    """The options of the user's most recently started server (the form's defaults)."""
    newest, options = None, {}
    for other in spawner.user.orm_user.orm_spawners.values():
        if other.user_options and other.started and (newest is None or other.started > newest):
            newest, options = other.started, dict(other.user_options)
    return options


def form_data(spawner) -> dict:
    book = load_pricebook()
    projects = {}
    for p in spawner.user_projects():
        projects[p.name] = {
            "description": p.description,
            "environments": {e: {"identity": _identity(p.environments[e])}
                             for e in ENVIRONMENTS if e in p.environments},
            "instance_types": list(p.instance_types),
            "lifecycles": [lc for lc in LIFECYCLES if lc in p.lifecycles],
            "idle_minutes": vars(p.idle_minutes),
            "disk_gb": vars(p.disk_gb),
        }
    instances = {
        name: {"describe": t.describe(),
               "price": {lc: book.hourly(name, lc) for lc in LIFECYCLES}}
        for name, t in book.instance_types.items()
    }
    return {
        "projects": projects,
        "instances": instances,
        "currency": book.currency,
        "pythons": spawner.available_pythons(),
        "interfaces": {k: v for k, v in INTERFACES.items() if k in spawner.available_interfaces()},
        "last": last_choices(spawner),
        "taken": sorted(s for s in spawner.user.orm_user.orm_spawners if s),
        "name": spawner.name,
        "name_pattern": NAME_RE.pattern,
        "name_rule": NAME_RULE,
    }


def _identity(env) -> str:
    parts = []
    if env.aws_role_arn:
        parts.append(f"AWS role {env.aws_role_arn}")
    if env.service_account:
        parts.append(f"service account {env.service_account}")
    return "; ".join(parts) or "no cloud identity (local lake only)"


def render_form(spawner) -> str:
    data = form_data(spawner)
    if not data["projects"]:
        return ('<div class="alert alert-warning" id="paved-no-projects">You are not a member of any project, '
                "so you cannot create a notebook yet. Ask your Paved administrator to add you.</div>")
    payload = html.escape(json.dumps(data), quote=False)
    return FORM_HTML.replace("__PAVED_FORM_DATA__", payload)


FORM_HTML = """
<style>
  #paved-form .form-label { font-weight: 600; margin-bottom: .2rem; }
  #paved-form .paved-help { font-size: .85em; color: #6c757d; }
  #paved-form summary { cursor: pointer; font-weight: 600; margin: .5rem 0; }
  #paved-form .paved-price { font-variant-numeric: tabular-nums; }
</style>
<script type="application/json" id="paved-form-data">__PAVED_FORM_DATA__</script>
<div id="paved-form">
  <h2 class="h4">Create a new notebook</h2>
  <div class="mb-3">
    <label class="form-label" for="paved-name">Notebook name</label>
    <input class="form-control" id="paved-name" name="notebook_name" required autocomplete="off">
    <div class="paved-help" id="paved-name-help"></div>
  </div>
  <div class="row">
    <div class="col-md-6 mb-3">
      <label class="form-label" for="paved-project">Project</label>
      <select class="form-select" id="paved-project" name="project"></select>
      <div class="paved-help" id="paved-project-help"></div>
    </div>
    <div class="col-md-6 mb-3">
      <label class="form-label" for="paved-environment">Environment</label>
      <select class="form-select" id="paved-environment" name="environment"></select>
    </div>
  </div>
  <div class="mb-3">
    <span class="form-label d-block">Identity</span>
    <input class="form-control-plaintext" id="paved-identity" readonly aria-label="identity">
  </div>
  <div class="row">
    <div class="col-md-6 mb-3">
      <label class="form-label" for="paved-instance">Instance type</label>
      <select class="form-select" id="paved-instance" name="instance_type"></select>
    </div>
    <div class="col-md-3 mb-3">
      <span class="form-label d-block">Lifecycle</span>
      <div id="paved-lifecycles"></div>
    </div>
    <div class="col-md-3 mb-3">
      <span class="form-label d-block">Estimated price</span>
      <span class="paved-price" id="paved-price"></span>
    </div>
  </div>
  <details id="paved-advanced">
    <summary>Advanced options</summary>
    <div class="row">
      <div class="col-md-3 mb-3">
        <label class="form-label" for="paved-python">Python</label>
        <select class="form-select" id="paved-python" name="python"></select>
      </div>
      <div class="col-md-3 mb-3">
        <label class="form-label" for="paved-idle">Max idle minutes</label>
        <input class="form-control" type="number" id="paved-idle" name="idle_minutes" required>
        <div class="paved-help" id="paved-idle-help"></div>
      </div>
      <div class="col-md-3 mb-3">
        <label class="form-label" for="paved-disk">Disk GB</label>
        <input class="form-control" type="number" id="paved-disk" name="disk_gb" required>
        <div class="paved-help" id="paved-disk-help"></div>
      </div>
      <div class="col-md-3 mb-3">
        <span class="form-label d-block">Interface</span>
        <div id="paved-interfaces"></div>
      </div>
    </div>
  </details>
</div>
<script>
(function () {
  const data = JSON.parse(document.getElementById("paved-form-data").textContent);
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
    const envs = Object.keys(p.environments);
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
    if (!msg && form) form.action = form.action.replace(/\\/[^\\/?]*(\\?|$)/, "/" + encodeURIComponent(v) + "$1");
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
})();
</script>
"""
