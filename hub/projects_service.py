"""The projects read API, a hub-managed service at ``/services/projects/``.

    GET /services/projects/api/projects          the caller's projects (hub admins: all)
    GET /services/projects/api/projects/<name>   one project, if the caller belongs to it (else 404, the same
                                                 answer as for a project that does not exist)

Authenticated by the hub: a browser session, or ``Authorization: token <hub API token>``.
"""

from __future__ import annotations

from paved.core.service import ServiceApp, ServiceHandler, make_app, run


class ProjectsHandler(ServiceHandler):
    def get(self):
        user = self.caller()
        self.write_json({"user": user["name"], "projects": [p.public() for p in self.caller_projects()]})


class ProjectHandler(ServiceHandler):
    def get(self, name):
        self.write_json(self.require_project(name).public())


class ProjectsApp(ServiceApp):
    """The projects service. It has no settings of its own: the projects file is the one every service gets."""

    name = "paved-projects"
    description = "Paved's projects read API at /services/projects/."

    def start(self) -> None:
        run(
            make_app(
                [
                    (r"api/projects", ProjectsHandler),
                    (r"api/projects/([^/]+)", ProjectHandler),
                ]
            )
        )


main = ProjectsApp.launch_instance


if __name__ == "__main__":
    main()
