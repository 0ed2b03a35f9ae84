// Narrow the grid list to the chosen community. The page works without this script:
// the grid list is then grouped by community and the server checks the pair.
(function () {
  document.querySelectorAll("select[data-grid-for]").forEach(function (grid) {
    var community = document.getElementById(grid.getAttribute("data-grid-for"));
    if (!community) return;
    var empty = grid.options[0];
    var byCommunity = {};
    grid.querySelectorAll("optgroup").forEach(function (group) {
      byCommunity[group.getAttribute("data-community")] =
        Array.prototype.slice.call(group.querySelectorAll("option"));
    });
    function update() {
      var keep = grid.value;
      while (grid.firstChild) grid.removeChild(grid.firstChild);
      grid.appendChild(empty);
      (byCommunity[community.value] || []).forEach(function (o) { grid.appendChild(o); });
      grid.value = keep;
      if (grid.value !== keep) grid.value = "";
    }
    community.addEventListener("change", update);
    update();
  });
})();
