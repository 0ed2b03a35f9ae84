// Sign-up helpers; the form works without them (the server checks everything again):
// the ID number's check character is checked as soon as the field is left, the birth date
// and gender fields show only for documents that do not carry them, a minor's ID opens the
// guardian section, and the skill list can be searched.
(function () {
  "use strict";
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";
  var idType = document.getElementById("id_type");
  var idNumber = document.getElementById("id_number");
  var message = document.getElementById("id-number-check");

  // GB 11643: the problem with an 18-character mainland ID number, or "" when it is valid.
  function idProblem(value) {
    if (value.length !== 18) return "length";
    if (!/^\d{17}[\dX]$/.test(value)) return "chars";
    var total = 0;
    for (var i = 0; i < 17; i++) total += Number(value[i]) * WEIGHTS[i];
    return CHECK[total % 11] === value[17] ? "" : "checksum";
  }

  function age(value) {
    var born = new Date(Number(value.slice(6, 10)), Number(value.slice(10, 12)) - 1,
                        Number(value.slice(12, 14)));
    var now = new Date(), years = now.getFullYear() - born.getFullYear();
    if (now < new Date(now.getFullYear(), born.getMonth(), born.getDate())) years -= 1;
    return years;
  }

  function checkId() {
    var value = idNumber.value.replace(/\s+/g, "").toUpperCase();
    if (value !== idNumber.value) idNumber.value = value;
    var problem = idType.value === "mainland_id" && value ? idProblem(value) : "";
    message.hidden = !problem;
    message.textContent = problem ? message.getAttribute("data-" + problem) : "";
    if (problem) idNumber.setAttribute("aria-invalid", "true");
    else idNumber.removeAttribute("aria-invalid");
    var guardian = document.getElementById("signup-guardian");
    if (!problem && value && idType.value === "mainland_id" && age(value) < 18 && guardian) {
      guardian.open = true;
    }
  }

  function showDocumentFields() {
    document.querySelectorAll("[data-hide-for-id-type]").forEach(function (block) {
      block.hidden = !block.hasAttribute("data-keep") &&
        block.getAttribute("data-hide-for-id-type") === idType.value;
    });
  }

  if (idType && idNumber && message) {
    idNumber.addEventListener("blur", checkId);
    idNumber.addEventListener("input", function () { if (!message.hidden) checkId(); });
    idType.addEventListener("change", function () { showDocumentFields(); checkId(); });
    showDocumentFields();
  }

  var search = document.getElementById("skill-search");
  var none = document.getElementById("skill-search-none");
  if (search) {
    var rows = Array.prototype.slice.call(document.querySelectorAll(".skill-row"));
    search.hidden = false;
    search.addEventListener("input", function () {
      var wanted = search.value.trim().toLowerCase(), shown = 0;
      rows.forEach(function (row) {
        var label = row.querySelector("label").textContent.toLowerCase();
        var chosen = row.querySelector("select") && row.querySelector("select").value;
        row.hidden = Boolean(wanted) && label.indexOf(wanted) < 0 && !chosen;
        if (!row.hidden) shown += 1;
      });
      none.hidden = shown > 0;
      none.textContent = shown ? "" : search.getAttribute("data-none");
    });
  }
})();
