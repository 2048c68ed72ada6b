// What the Paved status bar entry and links show, from the environment code-server inherits from its notebook
// server (paved.scoping.scope.build_scope sets PAVED_*; the hub's service URLs come as PAVED_<SERVICE>_URL,
// absolute public URLs). No `vscode` import here, so it runs (and is tested) under plain Node.
"use strict";

const SEP = " \u00b7 ";  // " · ", as JupyterLab's Paved status bar item

/** The server's scope: {project, environment, instanceType, lifecycle, notebook} (empty strings if unset). */
function scope(env) {
  return {
    project: env.PAVED_PROJECT || "",
    environment: env.PAVED_ENVIRONMENT || "",
    instanceType: env.PAVED_INSTANCE_TYPE || "",
    lifecycle: env.PAVED_LIFECYCLE || "",
    notebook: env.PAVED_NOTEBOOK || "",
  };
}

/** The status bar text: project · environment · instance type · lifecycle (the parts that are set). */
function label(env) {
  const s = scope(env);
  return [s.project, s.environment, s.instanceType, s.lifecycle].filter(Boolean).join(SEP);
}

function withSlash(url) {
  return url.endsWith("/") ? url : url + "/";
}

/** The hub's public root URL ("https://paved.example/" or with a base path), or "" when nothing says it:
 * $PAVED_HUB_URL, else a service URL without its `services/<name>/`, else $JUPYTERHUB_PUBLIC_HUB_URL without
 * its `hub/` (the same order as paved_lab.proxy.default_service_url). */
function hubRoot(env) {
  const explicit = (env.PAVED_HUB_URL || "").trim();
  if (explicit) return withSlash(explicit);
  for (const name of ["PIPELINES", "COSTS", "CATALOG", "PROJECTS"]) {
    const m = /^(.*\/)services\/[^/]+\/?$/.exec((env[`PAVED_${name}_URL`] || "").trim());
    if (m && /^https?:\/\//.test(m[1])) return m[1];
  }
  const publicHub = (env.JUPYTERHUB_PUBLIC_HUB_URL || "").trim();
  if (/^https?:\/\//.test(publicHub)) return withSlash(publicHub).replace(/hub\/$/, "");
  return "";
}

/** $PAVED_<NAME>_URL, else <hub root>services/<name>/, else "". */
function serviceUrl(env, name) {
  const explicit = (env[`PAVED_${name.toUpperCase()}_URL`] || "").trim();
  if (explicit) return withSlash(explicit);
  const root = hubRoot(env);
  return root ? `${root}services/${name}/` : "";
}

/** The links, in menu order: [{id, label, detail, url}], only those with a known absolute URL. The project's
 * pages are filtered to this server's project, as JupyterLab's Paved menu does (paved_lab.status.links). */
function links(env) {
  const root = hubRoot(env);
  const project = encodeURIComponent(scope(env).project);
  const forProject = (url) => (url && project ? `${url}?project=${project}` : url);
  const all = [
    {id: "home", label: "Hub home", detail: "Your notebooks and projects", url: root && `${root}hub/home`},
    {id: "newNotebook", label: "New notebook", detail: "Start another notebook server",
     url: root && `${root}hub/home#paved-new-notebook`},
    {id: "pipelines", label: "Pipelines", detail: "This project's pipelines and runs",
     url: forProject(serviceUrl(env, "pipelines"))},
    {id: "costs", label: "Costs", detail: "This project's costs and budget", url: forProject(serviceUrl(env, "costs"))},
    {id: "catalog", label: "Catalog", detail: "Datasets and lineage", url: serviceUrl(env, "catalog")},
  ];
  return all.filter((l) => l.url);
}

module.exports = {scope, label, hubRoot, serviceUrl, links, SEP};
