// Listing: "Export selected" sends the ticked rows. Their boxes belong to the members'
// selection form (form="bulk"), so their ids are copied into the export form as it is sent.
(() => {
  "use strict";

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-export-selection]");
    if (!form) return;
    form.querySelectorAll("input[data-export-id]").forEach((input) => input.remove());
    const ticked = document.querySelectorAll('input[type="checkbox"][name="ids"]:checked');
    const hint = form.querySelector("[data-export-empty]");
    if (!ticked.length) {
      event.preventDefault();
      if (hint) hint.hidden = false;
      return;
    }
    if (hint) hint.hidden = true;
    ticked.forEach((box) => {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "ids";
      input.value = box.value;
      input.dataset.exportId = "";
      form.append(input);
    });
  });
})();
