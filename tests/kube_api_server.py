"""A local stand-in for the Kubernetes API server that checks what a client sends, for tests. It is not a cluster.

An aiohttp server on 127.0.0.1 that knows the REST paths and verbs of the resources Paved's pipelines service
uses (CronJobs and Jobs of ``batch/v1``, Secrets and Pods of ``v1``, as the Kubernetes API reference lists
them) and checks every request against them:

- the path must be one of those resources' collection or item paths in the configured namespace, the verb one
  the API allows there, and the query parameters ones the API defines for that call;
- a body (create, replace, delete options) must validate *strictly* against the OpenAPI schema of its kind in
  ``kubernetes-validate``'s schemas, for Kubernetes 1.30 and the newest version it ships; its kind and
  apiVersion must be the resource's, its name (replace) the path's, its namespace (if set) the path's.

A request that fails any check gets the 4xx the API server would answer (``Status`` JSON) and is recorded in
:attr:`KubeApiServer.errors`; tests assert that list is empty. Objects are kept in memory (uid,
resourceVersion, creationTimestamp filled in) and list/watch work with label selectors of the ``a=b,c=d``
form; tests drive status changes (:meth:`set_status`) that watchers receive as MODIFIED events.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
from aiohttp import web
from referencing import Registry, Resource

VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
# resource -> (API prefix, apiVersion, kind)
RESOURCES = {
    "cronjobs": ("/apis/batch/v1", "batch/v1", "CronJob"),
    "jobs": ("/apis/batch/v1", "batch/v1", "Job"),
    "secrets": ("/api/v1", "v1", "Secret"),
    "pods": ("/api/v1", "v1", "Pod"),
}
COLLECTION_VERBS = {"GET", "POST"}  # list/watch, create (deletecollection is not used by Paved)
ITEM_VERBS = {"GET", "PUT", "PATCH", "DELETE"}
READ_ONLY = {"pods"}  # Paved only reads pods
QUERY = {
    ("GET", "collection"): {
        "labelSelector",
        "fieldSelector",
        "watch",
        "resourceVersion",
        "timeoutSeconds",
        "allowWatchBookmarks",
        "limit",
        "continue",
        "pretty",
        "resourceVersionMatch",
        "sendInitialEvents",
    },
    ("POST", "collection"): {"dryRun", "fieldManager", "fieldValidation", "pretty"},
    ("GET", "item"): {"pretty"},
    ("PUT", "item"): {"dryRun", "fieldManager", "fieldValidation", "pretty"},
    ("DELETE", "item"): {
        "dryRun",
        "gracePeriodSeconds",
        "propagationPolicy",
        "orphanDependents",
        "pretty",
        "ignoreStoreReadErrorWithClusterBreakingPotential",
    },
}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _matches(labels: dict, selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class KubeApiServer:
    """Start with ``await server.start()``, stop with ``await server.stop()``; ``url`` is its base URL."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self.objects: dict[str, dict[str, dict]] = {r: {} for r in RESOURCES}
        self.requests: list[tuple[str, str]] = []  # (verb, path) in order
        self.errors: list[str] = []
        self._version = 100
        self._watchers: dict[str, list[asyncio.Queue]] = {r: [] for r in RESOURCES}
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for queues in self._watchers.values():
            for q in queues:
                q.put_nowait(None)
        if self._runner:
            await self._runner.cleanup()

    # --- what tests do -----------------------------------------------------------------------------------

    def add(self, resource: str, obj: dict) -> dict:
        """Put an object in (as the cluster's controllers would: e.g. a Job's pod), telling watchers ADDED."""
        obj = self._stamp(copy.deepcopy(obj))
        self.objects[resource][obj["metadata"]["name"]] = obj
        self._notify(resource, "ADDED", obj)
        return obj

    def set_status(self, resource: str, name: str, status: dict) -> dict:
        """Replace an object's status (what the Job controller or kubelet would do); watchers get MODIFIED."""
        obj = self.objects[resource][name]
        obj["status"] = copy.deepcopy(status)
        self._bump(obj)
        self._notify(resource, "MODIFIED", obj)
        return obj

    # --- the API -----------------------------------------------------------------------------------------

    def _reject(self, status: int, reason: str, message: str) -> web.Response:
        self.errors.append(message)
        return self._status(status, reason, message)

    @staticmethod
    def _status(status: int, reason: str, message: str) -> web.Response:
        return web.json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": reason,
                "code": status,
            },
            status=status,
        )

    def _bump(self, obj: dict) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)

    def _stamp(self, obj: dict) -> dict:
        meta = obj["metadata"]
        meta.setdefault("namespace", self.namespace)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        self._bump(obj)
        return obj

    def _notify(self, resource: str, kind: str, obj: dict) -> None:
        for q in self._watchers[resource]:
            q.put_nowait({"type": kind, "object": copy.deepcopy(obj)})

    def _validate(self, body, api_version: str, kind: str, where: str) -> str | None:
        if not isinstance(body, dict):
            return f"{where}: the body is not a JSON object"
        if (body.get("apiVersion"), body.get("kind")) != (api_version, kind):
            return f"{where}: body is {body.get('apiVersion')}/{body.get('kind')}, the path wants {api_version}/{kind}"
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(body, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                return f"{where}: invalid {kind} for Kubernetes {version}: {e.message} at {list(e.path)}"
            except Exception as e:  # noqa: BLE001 - any other validation failure is a rejection too
                return f"{where}: {kind} not validated for Kubernetes {version}: {e}"
        return None

    def _validate_delete_options(self, body, where: str) -> str | None:
        """DeleteOptions carry the apiVersion of the resource's group, so kubernetes-validate's lookup by
        apiVersion cannot find their schema: load it (and the definitions it refers to) the way it does."""
        if not isinstance(body, dict):
            return f"{where}: DeleteOptions must be a JSON object"
        for version in VERSIONS:
            folder = f"kubernetes-json-schema/v{version}-local-strict"
            schema = kubernetes_validate.utils.schema_contents(f"{folder}/deleteoptions-meta-v1.json", version)
            defs = kubernetes_validate.utils.schema_contents(f"{folder}/_definitions.json", version)
            registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
            errors = list(jsonschema.Draft202012Validator(schema, registry=registry).iter_errors(body))
            if errors:
                return f"{where}: invalid DeleteOptions for Kubernetes {version}: {errors[0].message}"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        verb, path = request.method, request.path
        self.requests.append((verb, path))
        where = f"{verb} {path}"
        m = re.fullmatch(r"(/apis/batch/v1|/api/v1)/namespaces/([^/]+)/([a-z]+)(?:/([^/]+))?", path)
        if not m or m.group(3) not in RESOURCES or RESOURCES[m.group(3)][0] != m.group(1):
            return self._reject(404, "NotFound", f"{where}: not a path of the Kubernetes API resources Paved uses")
        prefix, namespace, resource, name = m.groups()
        _, api_version, kind = RESOURCES[resource]
        if namespace != self.namespace:
            return self._reject(403, "Forbidden", f"{where}: namespace {namespace} is not the release namespace")
        scope = "item" if name else "collection"
        allowed = ITEM_VERBS if name else COLLECTION_VERBS
        if verb not in allowed or (resource in READ_ONLY and verb != "GET"):
            return self._reject(405, "MethodNotAllowed", f"{where}: {verb} is not allowed on a {kind} {scope}")
        if (verb, scope) not in QUERY:  # allowed by the API (PATCH) but not used by Paved: nothing to check it by
            return self._reject(405, "MethodNotAllowed", f"{where}: {verb} is not supported by this test server")
        unknown = set(request.query) - QUERY.get((verb, scope), set())
        if unknown:
            return self._reject(400, "BadRequest", f"{where}: unknown query parameter(s) {sorted(unknown)}")
        body: Any = None  # whatever JSON the client sent: _validate checks its shape before it is used
        if request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._reject(400, "BadRequest", f"{where}: the body is not JSON")
        store = self.objects[resource]

        if verb == "GET" and scope == "collection":
            selector = request.query.get("labelSelector")
            if (request.query.get("watch") or "").lower() in ("true", "1"):
                return await self._watch(request, resource, selector)
            items = [o for o in store.values() if _matches(o["metadata"].get("labels") or {}, selector)]
            return web.json_response(
                {
                    "kind": f"{kind}List",
                    "apiVersion": api_version,
                    "metadata": {"resourceVersion": str(self._version)},
                    "items": items,
                }
            )
        if verb == "POST":
            problem = self._validate(body, api_version, kind, where)
            if problem:
                return self._reject(422, "Invalid", problem)
            meta_ns = body["metadata"].get("namespace")
            if meta_ns not in (None, namespace):
                return self._reject(400, "BadRequest", f"{where}: metadata.namespace {meta_ns} is not the path's")
            if body["metadata"]["name"] in store:
                return self._status(409, "AlreadyExists", f'{resource} "{body["metadata"]["name"]}" already exists')
            obj = self._stamp(copy.deepcopy(body))
            if resource == "secrets" and "stringData" in obj:  # the API server turns stringData into data
                import base64

                obj.setdefault("data", {}).update(
                    {k: base64.b64encode(v.encode()).decode() for k, v in obj.pop("stringData").items()}
                )
            store[obj["metadata"]["name"]] = obj
            self._notify(resource, "ADDED", obj)
            return web.json_response(obj, status=201)
        if name not in store:
            if verb == "DELETE" and body is not None:
                problem = self._validate_delete_options(body, where)
                if problem:
                    return self._reject(422, "Invalid", problem)
            return self._status(404, "NotFound", f'{resource} "{name}" not found')
        if verb == "GET":
            return web.json_response(store[name])
        if verb == "PUT":
            problem = self._validate(body, api_version, kind, where)
            if problem:
                return self._reject(422, "Invalid", problem)
            if body["metadata"]["name"] != name:
                return self._reject(400, "BadRequest", f"{where}: metadata.name does not match the path")
            old = store[name]
            obj = copy.deepcopy(body)
            obj["metadata"].update({k: old["metadata"][k] for k in ("uid", "creationTimestamp", "namespace")})
            if resource == "secrets" and "stringData" in obj:
                import base64

                obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in obj.pop("stringData").items()}
            self._bump(obj)
            store[name] = obj
            self._notify(resource, "MODIFIED", obj)
            return web.json_response(obj)
        if verb == "DELETE":
            if body is not None:
                problem = self._validate_delete_options(body, where)
                if problem:
                    return self._reject(422, "Invalid", problem)
            obj = store.pop(name)
            self._notify(resource, "DELETED", obj)
            return web.json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": name, "kind": resource, "uid": obj["metadata"]["uid"]},
                }
            )
        return self._reject(405, "MethodNotAllowed", f"{where}: not supported by this test server")

    async def _watch(self, request: web.Request, resource: str, selector: str | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        q: asyncio.Queue = asyncio.Queue()
        self._watchers[resource].append(q)
        since = int(request.query.get("resourceVersion") or 0)
        timeout = float(request.query.get("timeoutSeconds") or 300)
        try:
            while True:
                try:
                    event = await asyncio.wait_for(q.get(), timeout)
                except asyncio.TimeoutError:
                    break
                if event is None:
                    break
                obj = event["object"]
                if int(obj["metadata"]["resourceVersion"]) <= since:
                    continue
                if _matches(obj["metadata"].get("labels") or {}, selector):
                    await response.write((json.dumps(event) + "\n").encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._watchers[resource].remove(q)
        return response
