"""The projects read API, a hub-managed service at ``/services/projects/``.

    GET /services/projects/api/projects          the caller's projects (hub admins: all)
    GET /services/projects/api/projects/<name>   one project, if the caller belongs to it (else 404, the same
                                                 answer as for a project that does not exist)

Authenticated by the hub: a browser session, or ``Authorization: token <hub API token>``.
"""

from __future__ import annotations

from paved.core.service import ServiceHandler, make_app, run


class ProjectsHandler(ServiceHandler):
    def get(self):
        user = self.caller()
        self.write_json({"user": user["name"], "projects": [p.public() for p in self.caller_projects()]})


class ProjectHandler(ServiceHandler):
    def get(self, name):
        self.write_json(self.require_project(name).public())


def main() -> None:
    run(
        make_app(
            [
                (r"api/projects", ProjectsHandler),
                (r"api/projects/([^/]+)", ProjectHandler),
            ]
        )
    )


if __name__ == "__main__":
    main()
