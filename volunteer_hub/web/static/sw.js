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

// A page showing a task's person says until when (X-Personal-Until, the task's end plus the
// grace period): the kept copy is not shown after that.
function personalPast(page) {
  var until = Date.parse(page.headers.get("X-Personal-Until") || "");
  return !isNaN(until) && until < Date.now();
}

// Forget the pages kept for the person who was logged in (the offline page and the static
// files stay: they hold nothing personal). At logout, and whenever the login page is opened:
// a session that simply ended must not leave its pages to the next person on the phone.
var LOGIN_URL = "/login";
function forget() {
  return caches.open(PAGES).then(function (cache) {
    return cache.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) {
        var path = new URL(key.url).pathname;
        return path !== OFFLINE_URL && path.indexOf("/static/") !== 0;
      }).map(function (key) { return cache.delete(key); }));
    });
  });
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

// A one-tap answer given without a connection is kept and sent when the phone is back
// online (the next page it loads, or Background Sync where the browser has it).
var ANSWER = /^\/emergency\/respond\/[^/]+$/;
var QUEUE_DB = "vh-answers", QUEUE = "outbox";
var QUEUED_PAGE = '<!doctype html><html lang="zh-Hans"><meta charset="utf-8">' +
  '<title>已保存您的回复</title><meta name="viewport" ' +
  'content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/static/css/app.css">' +
  '<main class="page"><section class="card" id="answer-queued"><h1>已保存您的回复</h1>' +
  '<p>现在没有网络连接：恢复连接后会自动发送。</p><p lang="en">Your answer is saved: it will ' +
  'be sent as soon as this phone is back online.</p></section></main>';

function queueStore(mode, work) {
  return new Promise(function (resolve, reject) {
    var opening = indexedDB.open(QUEUE_DB, 1);
    opening.onupgradeneeded = function () {
      opening.result.createObjectStore(QUEUE, {autoIncrement: true});
    };
    opening.onerror = function () { reject(opening.error); };
    opening.onsuccess = function () {
      var tx = opening.result.transaction(QUEUE, mode);
      var result = work(tx.objectStore(QUEUE));
      tx.oncomplete = function () { resolve(result && result.result); };
      tx.onerror = function () { reject(tx.error); };
    };
  });
}

function keepAnswer(request) {
  return request.text().then(function (body) {
    return queueStore("readwrite", function (store) {
      return store.add({url: request.url, body: body,
                        type: request.headers.get("Content-Type") || ""});
    });
  }).then(function () {
    if (self.registration.sync) return self.registration.sync.register("answers").catch(function () {});
  });
}

function sendKeptAnswers() {
  return queueStore("readonly", function (store) {
    var all = {}, cursor = store.openCursor();
    cursor.onsuccess = function () {
      var at = cursor.result;
      if (at) { all[at.key] = at.value; at.continue(); }
    };
    return {get result() { return all; }};
  }).then(function (kept) {
    return Promise.all(Object.keys(kept || {}).map(function (key) {
      var answer = kept[key];
      return fetch(answer.url, {method: "POST", body: answer.body, credentials: "same-origin",
                                headers: {"Content-Type": answer.type}, redirect: "manual"})
        .then(function (response) {
          // The server could not take it yet (restarting, gateway down, too many at once):
          // kept for the next try like an answer still offline. Any other answer was heard.
          if (response.status >= 500 || response.status === 429 || response.status === 408) return;
          return queueStore("readwrite", function (store) { store.delete(Number(key)); });
        }).catch(function () {});  // still offline: kept for the next try
    }));
  }).catch(function () {});
}

self.addEventListener("sync", function (event) {
  if (event.tag === "answers") event.waitUntil(sendKeptAnswers());
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && ANSWER.test(url.pathname)) {
    var copy = request.clone();
    event.respondWith(fetch(request).catch(function () {
      return keepAnswer(copy).then(function () {
        return new Response(QUEUED_PAGE, {headers: {"Content-Type": "text/html; charset=utf-8"}});
      });
    }));
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate") event.waitUntil(sendKeptAnswers());
  if (request.mode === "navigate" && url.pathname === LOGIN_URL) event.waitUntil(forget());
  if (request.mode === "navigate") {
    event.respondWith(fromNetwork(event, kept(url.pathname)).catch(function () {
      return caches.match(request).then(function (page) {
        if (page && personalPast(page)) {  // a task's person, kept past the task: gone
          return caches.open(PAGES).then(function (cache) { return cache.delete(request); })
            .then(function () { return caches.match(OFFLINE_URL); });
        }
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
  if (event.data && event.data.type === "forget") event.waitUntil(forget());
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
