// Keeps every resync progress panel ([data-resync-progress]) up to date by polling its JSON
// endpoint (data-progress-url). No inline script: the page only carries data attributes.
// Polling starts only for an active run and stops when it ends; the page then reloads once so
// that the failures, the "Retry failed" button and the history are rendered by the server.
(function () {
  "use strict";

  var INTERVAL_MS = 1000;
  var MAX_INTERVAL_MS = 10000;

  function update(panel, data) {
    panel.querySelectorAll("[data-field]").forEach(function (el) {
      var name = el.getAttribute("data-field");
      if (!(name in data)) {
        return;
      }
      var value = data[name] === null ? "" : data[name];
      if (el.tagName === "PROGRESS") {
        el.value = Number(value) || 0;
        el.textContent = value + "%";
      } else {
        el.textContent = value;
      }
      if (name === "outcome_display") {
        el.className = "status status-" + data.outcome;
        el.setAttribute("data-status", data.outcome);
      }
      if (name === "error" || name === "waiting_reason") {
        el.hidden = !value;
      }
    });
    var failed = panel.querySelector("[data-failed-stat]");
    if (failed) {
      failed.classList.toggle("is-bad", Number(data.failed) > 0);
    }
    var until = panel.querySelector("[data-pause-until]");
    if (until) {
      until.hidden = !(data.status === "paused" && data.paused_until_display);
    }
    var cancel = panel.querySelector("[data-cancel-button]");
    if (cancel && data.status === "cancelling") {
      cancel.disabled = true;
      cancel.textContent = cancel.getAttribute("data-cancelling-label");
    }
  }

  function watch(panel) {
    var url = panel.getAttribute("data-progress-url");
    var delay = INTERVAL_MS;

    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          delay = INTERVAL_MS;
          update(panel, data);
          if (data.active) {
            window.setTimeout(tick, delay);
          } else {
            window.location.reload();
          }
        })
        .catch(function () {
          // The server is busy or restarting: back off, keep trying.
          delay = Math.min(delay * 2, MAX_INTERVAL_MS);
          window.setTimeout(tick, delay);
        });
    }

    window.setTimeout(tick, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-resync-progress][data-active='true']").forEach(watch);
  });
})();
