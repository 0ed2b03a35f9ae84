// Reloads the page every data-reload-seconds seconds (e.g. the roll call's changing QR code).
// Replaces an inline setTimeout, which the Content-Security-Policy forbids.
(function () {
  "use strict";
  var seconds = Number(document.currentScript && document.currentScript.dataset.reloadSeconds);
  if (seconds > 0) {
    setTimeout(function () { location.reload(); }, seconds * 1000);
  }
})();
