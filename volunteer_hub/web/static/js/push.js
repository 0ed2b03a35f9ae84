// "Turn on notifications on this phone": register the service worker, subscribe with the
// server's VAPID key and store the subscription for the logged-in user (session + CSRF).
(function () {
  var box = document.querySelector("[data-push]");
  if (!box || !box.getAttribute("data-key")) return;
  var status = box.querySelector("[data-push-status]");
  var onButton = box.querySelector("[data-push-on]");
  var offButton = box.querySelector("[data-push-off]");
  var csrf = document.querySelector('meta[name="csrf-token"]');

  function say(name) { status.textContent = box.getAttribute("data-msg-" + name) || ""; }
  function show(subscribed) {  // style, not `hidden`: the button rule sets display
    onButton.style.display = subscribed ? "none" : "";
    offButton.style.display = subscribed ? "" : "none";
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) ||
      !("Notification" in window)) {
    // iOS offers push only to the app opened from the home screen.
    say(/iPhone|iPad|iPod/.test(navigator.userAgent) ? "ios" : "unsupported");
    return;
  }

  function keyBytes(base64url) {
    var base64 = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function send(method, body) {
    return fetch(box.getAttribute("data-url"), {
      method: method, credentials: "same-origin", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.content : ""}
    }).then(function (response) {
      if (!response.ok) throw new Error("server answered " + response.status);
      return response;
    });
  }

  function store(subscription) {
    var json = subscription.toJSON();
    return send("POST", {endpoint: json.endpoint, keys: json.keys});
  }

  var ready = navigator.serviceWorker.register(box.getAttribute("data-sw"), {scope: "/"})
    .then(function () { return navigator.serviceWorker.ready; });

  ready.then(function (registration) {
    return registration.pushManager.getSubscription();
  }).then(function (subscription) {
    show(Boolean(subscription));
    if (subscription) {
      say("on");
      return store(subscription);  // the server may have dropped or moved it meanwhile
    }
    say(Notification.permission === "denied" ? "denied" : "off");
  }).catch(function () { say("failed"); });

  onButton.addEventListener("click", function () {
    onButton.disabled = true;
    say("working");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("denied");
      return ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: keyBytes(box.getAttribute("data-key"))
      });
    }).then(store).then(function () {
      show(true);
      say("on");
    }).catch(function (error) {
      say(error && error.message === "denied" ? "denied" : "failed");
    }).then(function () { onButton.disabled = false; });
  });

  offButton.addEventListener("click", function () {
    offButton.disabled = true;
    say("working");
    ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return;
      return send("DELETE", {endpoint: subscription.endpoint}).catch(function () {})
        .then(function () { return subscription.unsubscribe(); });
    }).then(function () {
      show(false);
      say("off");
    }).catch(function () { say("failed"); })
      .then(function () { offButton.disabled = false; });
  });
})();
