// "Use my location" on the call-out form: the phone's position fills the coordinates, which
// then win over the community picked. Without this script (or without geolocation) the
// button stays hidden and the form still works with the community picker.
(function () {
  var button = document.getElementById("use-my-location");
  if (!button || !navigator.geolocation) return;
  var status = document.getElementById("location-status");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.getAttribute("data-locating");
    navigator.geolocation.getCurrentPosition(function (position) {
      lat.value = position.coords.latitude.toFixed(6);
      lon.value = position.coords.longitude.toFixed(6);
      var system = document.getElementById("coord_system");
      if (system) system.value = "wgs84";  // the browser's position is WGS-84 (W3C spec)
      status.textContent = button.getAttribute("data-located")
        .replace("{lat}", lat.value).replace("{lon}", lon.value);
    }, function () {
      status.textContent = button.getAttribute("data-failed");
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
  });
})();
