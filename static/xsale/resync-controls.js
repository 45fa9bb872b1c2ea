// Forms with data-confirm ask before they post (cancelling a resync); a confirmed cancel shows
// "cancelling…" at once and cannot be clicked twice. No inline script: the text is in the page's
// data attributes, so it is translated with the page.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var button = form.querySelector("[data-cancel-button]");
    if (button) {
      // Disabled after this tick, so the click still submits the form.
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = button.getAttribute("data-cancelling-label");
      }, 0);
    }
  });
})();
