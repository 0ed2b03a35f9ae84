// Copy buttons: <button data-copy-target="input-id" data-copied-text="..."> copies that
// input's value (Clipboard API, falling back to selecting the text for a manual copy).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) { return; }
    var done = function () {
      var original = button.textContent;
      button.textContent = button.getAttribute("data-copied-text") || original;
      setTimeout(function () { button.textContent = original; }, 2000);
    };
    var selectAndCopy = function () {
      source.select();  // selected at least, for a manual copy
      if (document.execCommand && document.execCommand("copy")) { done(); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, selectAndCopy);
    } else {
      selectAndCopy();
    }
  });
})();
