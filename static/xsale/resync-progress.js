// Keeps every resync progress panel ([data-resync-progress]) up to date by polling its JSON
// endpoint (data-progress-url). No inline script: the page only carries data attributes.
// Polling starts only for an active run and stops when it ends; the page then reloads once so
// that the failures, the "Retry failed" button and the history are rendered by the server.
// The same answer updates the run's row in the history (tr[data-run]) and the start button, so
// that the panel and the row never disagree; a paused run's countdown ticks every second. On a
// run's page the answer carries the plot too (plot_html, drawn by the server from the same
// figures as the pace and the time left): it appears with the first offers, without a reload.
(function () {
  "use strict";

  var INTERVAL_MS = 1000;
  var MAX_INTERVAL_MS = 10000;

  // Fill every element of `root` named by `attr` (data-field in the panel, data-row-field in
  // the history row) with the value of that name.
  function fill(root, data, attr) {
    root.querySelectorAll("[" + attr + "]").forEach(function (el) {
      var name = el.getAttribute(attr);
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
      if (name === "error") {
        el.hidden = !value;
      }
      if (name === "waiting_reason") {
        // Kept in place while the run is active: the panel does not jump between polls.
        el.hidden = !value && !data.active;
        el.classList.toggle("resync-pause", data.note_kind === "pause");
      }
    });
    root.querySelectorAll("[data-failed-stat], [data-failed-cell]").forEach(function (failed) {
      failed.classList.toggle("is-bad", Number(data.failed) > 0);
    });
  }

  function update(panel, data) {
    fill(panel, data, "data-field");
    var bar = panel.querySelector("[data-bar]");
    if (bar) {
      bar.className = "resync-bar outcome-" + data.outcome;
    }
    var slot = document.querySelector("[data-plot-slot]");
    if (slot && data.plot_html) {
      slot.innerHTML = data.plot_html;
    }
    var note = panel.querySelector("[data-pause-note]");
    if (note) {
      note.hidden = !data.paused;
    }
    var countdown = panel.querySelector("[data-countdown]");
    if (countdown) {
      countdown.setAttribute("data-seconds", data.paused ? data.resumes_in_seconds : "");
      countdown.textContent = data.resumes_in_display || "";
    }
    var cancel = panel.querySelector("[data-cancel-button]");
    if (cancel && data.status === "cancelling") {
      cancel.disabled = true;
      cancel.textContent = cancel.getAttribute("data-cancelling-label");
    }
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name];
    });
  }

  // "in 1 min 05 s", counted down between polls, in the words the server gave.
  function tickCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var raw = el.getAttribute("data-seconds");
      if (raw === "" || raw === null) {
        return;
      }
      var seconds = Math.max(Number(raw) - 1, 0);
      el.setAttribute("data-seconds", seconds);
      if (seconds === 0) {
        el.textContent = el.getAttribute("data-label-now");
        return;
      }
      var minutes = Math.floor(seconds / 60);
      var rest = seconds % 60;
      var time = minutes
        ? format(el.getAttribute("data-format-minutes"), { m: minutes, s: (rest < 10 ? "0" : "") + rest })
        : format(el.getAttribute("data-format-seconds"), { s: rest });
      el.textContent = format(el.getAttribute("data-label-in"), { time: time });
    });
  }

  function updateElsewhere(data) {
    document.querySelectorAll("tr[data-run='" + data.id + "']").forEach(function (row) {
      fill(row, data, "data-row-field");
    });
    var start = document.querySelector("[data-resync-active]");
    if (start) {
      start.textContent = start.getAttribute(data.paused ? "data-label-paused" : "data-label-running");
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
          updateElsewhere(data);
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
    if (document.querySelector("[data-countdown]")) {
      window.setInterval(tickCountdowns, 1000);
    }
  });
})();
