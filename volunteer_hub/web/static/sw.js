// Service worker of the Volunteer Hub web app (served from /sw.js, scope "/").
// Shows pushed messages, acknowledges urgent ones (so the server does not fall back to SMS)
// and opens the message's link when the notification is tapped.
// Offline: pages a volunteer needs at the scene (tasks, alerts, the last board a coordinator
// looked at) are kept from the last time they loaded; any other page falls back to /offline.
var PAGES = "vh-pages-v1";
var OFFLINE_URL = "/offline";
var KEPT = [/^\/me\/tasks(\/\d+)?$/, /^\/emergency\/alerts$/, /^\/me\/hours$/, /^\/me$/,
            /^\/emergency\/activations\/\d+\/board$/];
var BOARD = /^\/emergency\/activations\/\d+\/board$/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(PAGES)
    .then(function (cache) { return cache.addAll([OFFLINE_URL, "/static/css/app.css"]); })
    .catch(function () {})  // no offline page is no reason to fail the install
    .then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function kept(path) {
  return KEPT.some(function (pattern) { return pattern.test(path); });
}

// Only the last board is kept: an old call-out's figures are of no use at the next one.
function keep(request, response) {
  var path = new URL(request.url).pathname;
  return caches.open(PAGES).then(function (cache) {
    var dropOldBoards = !BOARD.test(path) ? Promise.resolve() : cache.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) {
        var other = new URL(key.url).pathname;
        return BOARD.test(other) && other !== path;
      }).map(function (key) { return cache.delete(key); }));
    });
    return dropOldBoards.then(function () { return cache.put(request, response); });
  });
}

function fromNetwork(event, shouldKeep) {
  return fetch(event.request).then(function (response) {
    if (response.ok && response.type === "basic" && !response.redirected && shouldKeep) {
      event.waitUntil(keep(event.request, response.clone()));
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fromNetwork(event, kept(url.pathname)).catch(function () {
      return caches.match(request).then(function (page) {
        return page || caches.match(OFFLINE_URL);
      });
    }));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fromNetwork(event, true).catch(function () {
      return caches.match(request);
    }));
  }
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "forget") event.waitUntil(caches.delete(PAGES));
});

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
