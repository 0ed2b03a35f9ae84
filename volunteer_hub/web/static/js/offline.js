// Every logged-in page registers the service worker (not only when push is turned on): it
// keeps the volunteer's tasks, alerts and the last board readable without a connection and
// shows an offline page instead of the browser's error. Logging out empties what it kept.
(function () {
  if (!("serviceWorker" in navigator)) return;
  var script = document.currentScript;
  var url = (script && script.getAttribute("data-sw")) || "/sw.js";
  navigator.serviceWorker.register(url, {scope: "/"}).catch(function () {});
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute && form.hasAttribute("data-logout") && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({type: "forget"});
    }
  });
})();
