// Check-in pages. A location check form ([data-locate]) fills the phone's position just before
// it is sent (the server keeps only pass/fail); without geolocation its button stays hidden and
// the code form is the way in. A door screen ([data-door-qr]) fetches a fresh QR image every
// minute, because each one is valid for a few minutes only.
(function () {
  document.querySelectorAll("form[data-locate]").forEach(function (form) {
    var button = form.querySelector("button");
    var status = form.querySelector("[role=status]");
    if (!button || !navigator.geolocation) return;
    button.hidden = false;
    form.addEventListener("submit", function (event) {
      if (form.elements.lat.value) return;
      event.preventDefault();
      status.textContent = form.getAttribute("data-locating");
      navigator.geolocation.getCurrentPosition(function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(6);
        form.elements.lon.value = position.coords.longitude.toFixed(6);
        form.submit();
      }, function () {
        status.textContent = form.getAttribute("data-failed");
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
    });
  });

  document.querySelectorAll("img[data-door-qr]").forEach(function (image) {
    var source = image.getAttribute("src").split("?")[0];
    var seconds = parseInt(image.getAttribute("data-refresh-seconds"), 10) || 60;
    setInterval(function () {
      image.src = source + "?at=" + Date.now();
    }, seconds * 1000);
  });

  var fullscreen = document.querySelector("[data-fullscreen]");
  if (fullscreen && document.documentElement.requestFullscreen) {
    fullscreen.hidden = false;
    fullscreen.addEventListener("click", function () {
      document.documentElement.requestFullscreen();
    });
  }
})();
