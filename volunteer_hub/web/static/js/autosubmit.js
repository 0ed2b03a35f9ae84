// Submits a filter form as soon as a control marked data-autosubmit changes.
// Replaces inline onchange="this.form.submit()", which the Content-Security-Policy forbids.
(function () {
  "use strict";
  document.querySelectorAll("[data-autosubmit]").forEach(function (control) {
    control.addEventListener("change", function () {
      if (control.form) { control.form.submit(); }
    });
  });
})();
