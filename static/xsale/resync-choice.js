// The confirmation pages show the estimate and the photo line of the chosen "what to send"
// (server-rendered for the choice in the URL); this switches them as the seller chooses.
// No inline script: every choice's text is already in the page, hidden but the chosen one's.
(function () {
  "use strict";

  function show(form) {
    var checked = form.querySelector('input[name="data_types"]:checked');
    if (!checked) {
      return;
    }
    var value = checked.value;
    var photosToo = form.querySelector('input[name="photos_too"]');
    var photosKey = photosToo && photosToo.checked && value !== "prices_stock" ? "photos_too" : value;
    document.querySelectorAll("[data-estimate-for]").forEach(function (node) {
      node.hidden = node.getAttribute("data-estimate-for") !== value;
    });
    document.querySelectorAll("[data-photos-for]").forEach(function (node) {
      node.hidden = node.getAttribute("data-photos-for") !== photosKey;
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.querySelector("[data-data-choice]")) {
      show(form);
    }
  });
})();
