// Keeps the inbox tab counts current without a reload: every 30 s while the page is visible.
(function () {
  "use strict";
  var nav = document.querySelector("nav[data-counts-url]");
  if (!nav || !window.fetch) { return; }
  var url = nav.getAttribute("data-counts-url");
  function refresh() {
    if (document.hidden) { return; }
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) { return; }
        nav.querySelectorAll(".count[data-scope]").forEach(function (el) {
          var value = counts[el.getAttribute("data-scope")];
          if (value !== undefined) {
            el.textContent = value;
            if (el.getAttribute("data-scope") === "overdue") { el.classList.toggle("alert", value !== "0"); }
          }
        });
      })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }
  setInterval(refresh, 30000);
  document.addEventListener("visibilitychange", refresh);
}());
