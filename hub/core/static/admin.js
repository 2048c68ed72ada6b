// The admin page's React app answers a refused Start Server with "Failed to start server" and drops the hub's
// reason. This wraps window.fetch (loaded before the app, so the app's calls go through it) and, when a start
// (POST .../api/users/<name>/server or .../servers/<name>) is refused, shows the JSON "message" of the answer in
// #paved-admin-reason. The app's behaviour is otherwise unchanged.
(function () {
  "use strict";
  const startUrl = /\/api\/users\/[^/]+\/servers?(\/[^/?]*)?(\?|$)/;
  const original = window.fetch.bind(window);
  function show(text) {
    const box = document.getElementById("paved-admin-reason");
    if (!box) return;
    box.textContent = text;
    box.classList.toggle("d-none", !text);
  }
  window.fetch = function (input, init) {
    // the app passes a URL object; a Request carries its own url and method
    const url = input instanceof Request ? input.url : String(input);
    const method = ((init && init.method) || (input instanceof Request && input.method) || "GET").toUpperCase();
    const promise = original(input, init);
    if (method !== "POST" || !url || !startUrl.test(url)) return promise;
    return promise.then((response) => {
      if (response.ok) {
        show("");
        return response;
      }
      response.clone().json().then(
        (body) => show("Start refused: " + (body && body.message ? body.message : response.status + " " + response.statusText)),
        () => show("Start refused: " + response.status + " " + response.statusText));
      return response;
    });
  };
})();
