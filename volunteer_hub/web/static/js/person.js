// The person picker (templates/_person.html): suggestions as one types, a tap chooses.
(function () {
  "use strict";
  function setUp(box) {
    var input = box.querySelector("input[type=search]");
    var hidden = box.querySelector("input[data-person-id]");
    var list = box.querySelector(".person-results");
    var chosen = box.querySelector(".person-chosen");
    var timer = null, asked = "";

    function choose(person) {
      hidden.value = person.id;
      input.value = person.name + " · " + person.code;
      chosen.textContent = box.getAttribute("data-chosen").replace("{name}", person.name);
      list.hidden = true;
    }

    function show(items) {
      list.textContent = "";
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = box.getAttribute("data-none");
        list.appendChild(none);
      }
      items.forEach(function (person) {
        var item = document.createElement("li"), button = document.createElement("button");
        button.type = "button";
        button.className = "person-option";
        button.setAttribute("role", "option");
        button.setAttribute("data-person", person.id);
        var name = document.createElement("strong");
        name.textContent = person.name;
        var details = document.createElement("span");
        details.className = "muted";
        details.textContent = [person.code, person.community, person.phone]
          .filter(Boolean).join(" · ");
        button.appendChild(name);
        button.appendChild(details);
        button.addEventListener("click", function () { choose(person); });
        item.appendChild(button);
        list.appendChild(item);
      });
      list.hidden = false;
    }

    function search() {
      var text = input.value.trim();
      hidden.value = "";
      chosen.textContent = "";
      if (!text) { list.hidden = true; return; }
      asked = text;
      fetch(box.getAttribute("data-person-search") + "?q=" + encodeURIComponent(text),
            {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { return r.ok ? r.json() : {items: []}; })
        .then(function (data) { if (asked === text) show(data.items || []); })
        .catch(function () {});
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
  }
  document.querySelectorAll(".person-picker").forEach(setUp);
})();
