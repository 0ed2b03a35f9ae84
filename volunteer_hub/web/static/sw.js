// Service worker of the Volunteer Hub web app (served from /sw.js, scope "/").
// Shows pushed messages, acknowledges urgent ones (so the server does not fall back to SMS)
// and opens the message's link when the notification is tapped.
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function defaultTitle(lang) {
  return lang && lang.indexOf("en") === 0 ? "Volunteer Hub" : "志愿服务站";
}

self.addEventListener("push", function (event) {
  var data = {};
  if (event.data) {
    try { data = event.data.json(); } catch (error) { data = {body: event.data.text()}; }
  }
  var urgent = Boolean(data.urgent);
  var shown = self.registration.showNotification(data.title || defaultTitle(data.lang), {
    body: data.body || "",
    tag: data.id || undefined,  // a second copy of one message replaces the first
    renotify: Boolean(data.id) && urgent,
    requireInteraction: urgent,
    vibrate: urgent ? [400, 150, 400, 150, 400] : undefined,
    lang: data.lang || undefined,
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/badge-96.png",
    data: {url: data.url || "/"}
  });
  var acknowledged = shown.then(function () {
    if (!data.ack) return;
    return fetch(data.ack, {
      method: "POST", credentials: "omit", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({id: data.id, sig: data.sig})
    }).catch(function () {});  // no receipt: the server sends the SMS, which is the point
  });
  event.waitUntil(acknowledged);
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || "/",
                       self.location.origin).href;
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true})
    .then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === target && "focus" in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(target);
    }));
});
