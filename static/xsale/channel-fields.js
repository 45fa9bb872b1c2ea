// The integration form (V1, V2, the admin) shows only the chosen channel's URLs and credentials.
// Each channel-specific input carries data-channels="allegro zalando"; its row is shown when the
// channel select's value is one of them. The server ignores the other channels' fields anyway.
(function () {
  "use strict";

  var ROW = ".field, tr, .form-row, .fieldBox";

  function sync(select) {
    var form = select.form;
    form.querySelectorAll("[data-channels]").forEach(function (input) {
      var row = input.closest(ROW) || input;
      var channels = input.getAttribute("data-channels").split(" ");
      row.hidden = select.value !== "" && channels.indexOf(select.value) === -1;
    });
    var limits = form.querySelector("[data-channel-limits]");
    if (limits) {
      var limit = JSON.parse(limits.getAttribute("data-channel-limits"))[select.value];
      if (limit) {
        limits.setAttribute("placeholder", String(limit));
        limits.setAttribute("max", String(limit));
      }
      // "I have a higher limit agreed with the channel": only above the published limit.
      var agreed = form.querySelector("[data-higher-limit]");
      if (agreed) {
        var above = limit && Number(limits.value) > limit;
        if (above) {
          limits.removeAttribute("max");
        }
        (agreed.closest(ROW) || agreed).hidden = !(above || agreed.checked);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[name=channel]").forEach(function (select) {
      if (!select.form || !select.form.querySelector("[data-channels]")) {
        return;
      }
      sync(select);
      select.addEventListener("change", function () {
        sync(select);
      });
      var rpm = select.form.querySelector("[data-channel-limits]");
      if (rpm) {
        rpm.addEventListener("input", function () {
          sync(select);
        });
      }
    });
  });
})();
