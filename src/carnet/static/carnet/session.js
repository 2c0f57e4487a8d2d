// Progressive enhancement: warn before an unused session ends, with a "Rester connecté" button
// that renews it. The server ends sessions by itself; without JavaScript nothing is shown.
// The box (#session-warning, role=alert) carries the timing from the server in data-*.
(function () {
  "use strict";
  var box = document.getElementById("session-warning");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-keepalive-url");
  var warnBefore = Number(box.getAttribute("data-warn-before")) * 1000;
  var extendable = box.getAttribute("data-extendable") === "1";
  var SHARED = "carnet.session.deadline"; // the latest deadline any tab of this site has seen
  var deadline = Date.now() + Number(box.getAttribute("data-expires-in")) * 1000;
  var timers = [];
  var shown = false;

  function shared() {
    try { return Number(window.localStorage.getItem(SHARED)) || 0; } catch (e) { return 0; }
  }
  function share() {
    // Activity in another tab renews the same session: keep the latest deadline.
    deadline = Math.max(deadline, shared());
    try { window.localStorage.setItem(SHARED, String(deadline)); } catch (e) { /* private mode */ }
  }
  function clear() {
    timers.forEach(window.clearTimeout);
    timers = [];
  }
  function minutes(ms) {
    var n = Math.max(1, Math.round(ms / 60000));
    return n + (n > 1 ? " minutes" : " minute");
  }
  function paragraph(text) {
    var p = document.createElement("p");
    p.textContent = text;
    return p;
  }
  function empty() {
    while (box.firstChild) box.removeChild(box.firstChild);
  }

  function warn() {
    if (shown) return;
    shown = true;
    empty();
    var left = minutes(deadline - Date.now());
    if (extendable) {
      box.appendChild(paragraph("Sans activité de votre part, votre session se terminera dans " +
        left + " et vous devrez vous identifier à nouveau."));
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = "Rester connecté";
      button.addEventListener("click", keepAlive);
      box.appendChild(button);
    } else {
      box.appendChild(paragraph("Votre session atteint sa durée maximale : elle se terminera dans " +
        left + ". Enregistrez ce que vous êtes en train de saisir, puis identifiez-vous à nouveau."));
    }
  }

  function expired() {
    clear();
    empty();
    shown = true;
    var p = paragraph("Votre session a expiré. ");
    var link = document.createElement("a");
    link.href = window.location.href;
    link.textContent = "Identifiez-vous à nouveau";
    p.appendChild(link);
    box.appendChild(p);
  }

  function check() {
    var previous = deadline;
    share();
    if (deadline > previous) { shown = false; empty(); schedule(); return; } // another tab
    if (Date.now() >= deadline) { expired(); return; }
    warn();
  }

  function schedule() {
    clear();
    share();
    var now = Date.now();
    timers.push(window.setTimeout(check, Math.max(0, deadline - warnBefore - now)));
    timers.push(window.setTimeout(check, Math.max(0, deadline - now)));
  }

  function keepAlive() {
    var token = document.querySelector('input[name="csrfmiddlewaretoken"]');
    window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual", // an ended session answers with a redirect to the login page
      headers: {"X-CSRFToken": token ? token.value : "", "Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) throw new Error("session");
      return response.json();
    }).then(function (data) {
      deadline = Date.now() + data.expires_in * 1000;
      extendable = data.extendable;
      shown = false;
      empty();
      var done = paragraph("Votre session est prolongée.");
      box.appendChild(done);
      schedule();
      window.setTimeout(function () { if (done.parentNode) box.removeChild(done); }, 10000);
    }).catch(expired);
  }

  schedule();
})();
