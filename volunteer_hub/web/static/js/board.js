// The coordinator's live board: server-sent events, falling back to polling JSON.
// The server closes each event stream after about 30 s; EventSource reconnects by itself.
(function () {
  "use strict";
  var root = document.getElementById("board");
  if (!root) return;
  var labels = JSON.parse(document.getElementById("board-labels").textContent);
  var POLL_MS = 5000;
  var STALE_AFTER_MS = 8000;
  var failures = 0, source = null, pollTimer = null, last = null, updatedAt = null;
  var staleTimer = null;

  // Times in the site's zone (Asia/Shanghai), whatever the phone's own clock zone is.
  function clock(date, seconds) {
    var options = {hour: "2-digit", minute: "2-digit", hour12: false, timeZone: labels.time_zone};
    if (seconds) options.second = "2-digit";
    try { return date.toLocaleTimeString(labels.lang, options); }
    catch (error) { return date.toISOString().slice(11, seconds ? 19 : 16); }
  }

  function showStale() {
    var stale = document.getElementById("board-stale");
    stale.textContent = labels.stale.replace("{time}", updatedAt ? clock(updatedAt, true) : "-");
    stale.hidden = false;
  }

  // A stream ends normally every half minute and reconnects at once: only a reconnection
  // that takes a while, or a failed poll, makes the figures stale.
  function setLive(state) {
    var el = document.getElementById("board-live");
    el.dataset.state = state;
    clearTimeout(staleTimer);
    if (state === "offline") showStale();
    else if (state === "reconnecting") staleTimer = setTimeout(showStale, STALE_AFTER_MS);
    else {
      updatedAt = new Date();
      document.getElementById("board-stale").hidden = true;
    }
    el.textContent = labels[state] + (updatedAt ? " · " + labels.updated + " " +
      clock(updatedAt, true) : "");
  }

  function showEnded(activation) {
    var ended = document.getElementById("board-ended");
    if (activation.status === "active" || !activation.stood_down_at) return;
    ended.textContent = labels.ended.replace("{time}", clock(new Date(activation.stood_down_at)));
    ended.hidden = false;
  }

  function text(el, value) { if (el && el.textContent !== String(value)) el.textContent = value; }

  function renderCounts(counts) {
    Object.keys(counts).forEach(function (key) {
      var tile = root.querySelector('[data-count="' + key + '"] .num');
      text(tile, counts[key]);
    });
  }

  function pct(part, whole) { return whole ? Math.round(100 * Math.min(part, whole) / whole) : 0; }

  function renderRoles(roles) {
    var list = document.getElementById("board-roles");
    roles.forEach(function (role) {
      var item = list.querySelector('[data-role="' + role.code + '"]');
      if (!item) return;
      item.className = role.short === 0 ? "full" : "short";
      text(item.querySelector(".role-numbers"), role.assigned + "/" + role.needed + " " +
        labels.assigned + " · " + role.arrived + " " + labels.arrived);
      item.querySelector(".bar-assigned").style.width = pct(role.assigned, role.needed) + "%";
      item.querySelector(".bar-arrived").style.width = pct(role.arrived, role.needed) + "%";
    });
  }

  function minutesSince(iso) {
    return Math.max(1, Math.ceil((Date.now() - Date.parse(iso)) / 60000));
  }

  function largest(values) { return Math.max.apply(null, values.concat([1])); }

  // Same drawing as report.curve_svg on the server.
  function renderCurve(data) {
    var points = data.curve.slice();
    if (data.activation.status === "active" && points.length) {
      var end = points[points.length - 1], now = minutesSince(data.activation.activated_at);
      if (now > end.minute) points.push({minute: now, coming: end.coming, cannot: end.cannot});
    }
    var W = 320, H = 160, L = 28, B = 20, T = 8, iw = W - L - 6, ih = H - B - T;
    var lastMinute = largest(points.map(function (p) { return p.minute; }));
    var top = largest(points.map(function (p) { return Math.max(p.coming, p.cannot); }));
    function line(key) {
      return [L + "," + (T + ih)].concat(points.map(function (p) {
        var x = L + iw * p.minute / lastMinute, y = T + ih * (1 - p[key] / top);
        return x.toFixed(1) + "," + y.toFixed(1);
      })).join(" ");
    }
    var svg = '<svg class="chart curve" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' +
      labels.coming + " / " + labels.cannot + '">' +
      '<line class="axis" x1="' + L + '" y1="' + (T + ih) + '" x2="' + (W - 6) +
      '" y2="' + (T + ih) + '"/>' +
      '<line class="axis" x1="' + L + '" y1="' + T + '" x2="' + L + '" y2="' + (T + ih) + '"/>' +
      '<text x="' + (L - 4) + '" y="' + (T + 8) + '" text-anchor="end">' + top + "</text>" +
      '<text x="' + (L - 4) + '" y="' + (T + ih) + '" text-anchor="end">0</text>' +
      '<text x="' + (W - 6) + '" y="' + (H - 4) + '" text-anchor="end">' + lastMinute +
      " " + labels.minutes + "</text>" +
      '<polyline class="coming" fill="none" points="' + line("coming") + '"/>' +
      '<polyline class="cannot" fill="none" points="' + line("cannot") + '"/></svg>';
    document.getElementById("board-curve").innerHTML = svg;
  }

  function renderEscalations(steps) {
    var list = document.getElementById("board-escalations");
    list.textContent = "";
    if (!steps.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = labels.no_escalation;
      list.appendChild(none);
    }
    steps.forEach(function (step) {
      var item = document.createElement("li"), time = document.createElement("time");
      time.dateTime = step.at;
      time.textContent = clock(new Date(step.at));
      item.appendChild(time);
      var label = labels.escalations[step.action] || step.action;
      item.appendChild(document.createTextNode(" " + label));
      list.appendChild(item);
    });
  }

  function renderChannels(channels) {
    var body = document.querySelector("#board-channels tbody");
    body.textContent = "";
    Object.keys(channels).sort().forEach(function (name) {
      var s = channels[name], row = document.createElement("tr");
      row.dataset.channel = name;
      [labels.channels[name] || name, s.queued, s.sent, s.delivered, s.failed].forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = value;
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
  }

  function render(data) {
    last = data;
    root.dataset.version = data.version;
    root.dataset.status = data.activation.status;
    var state = document.getElementById("board-state");
    if (state.dataset.state !== data.activation.status) {
      state.dataset.state = data.activation.status;
      state.textContent = labels[data.activation.status] || data.activation.status;
    }
    showEnded(data.activation);
    renderCounts(data.counts);
    renderRoles(data.roles);
    renderCurve(data);
    renderEscalations(data.escalations);
    renderChannels(data.channels);
  }

  function poll() {
    clearTimeout(pollTimer);
    fetch(root.dataset.json, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { render(data); setLive("polling"); })
      .catch(function () { setLive("offline"); })
      .then(function () { pollTimer = setTimeout(poll, POLL_MS); });
  }

  function connect() {
    if (!window.EventSource || root.dataset.transport === "poll") return poll();
    source = new EventSource(root.dataset.events);
    source.onopen = function () { failures = 0; setLive("live"); };
    source.addEventListener("snapshot", function (event) {
      render(JSON.parse(event.data));
      setLive("live");
    });
    source.addEventListener("gone", function () { source.close(); setLive("offline"); });
    source.onerror = function () {
      // A normal end of stream also lands here; EventSource reconnects on its own, unless
      // the server said no (204 or an error status): then it is CLOSED and we poll.
      failures += 1;
      setLive("reconnecting");
      if (failures >= 3 || source.readyState === EventSource.CLOSED) {
        source.close();
        poll();
      }
    };
  }

  // An active incident's curve keeps growing even when nothing else changes.
  setInterval(function () {
    if (last && last.activation.status === "active") renderCurve(last);
  }, 30000);
  connect();
  window.volunteerHubBoard = {render: render, poll: poll};
})();
