// Billing forms open a payment page or change a subscription: one click, one request.
// The server also de-duplicates checkouts by the form's request key; this only stops the
// second request in the common case (a double click, an impatient second press).
// Loaded after app.js, so a form whose confirmation was declined arrives here prevented.
(() => {
  const sent = new WeakSet();

  const buttons = (form) => form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]");

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
    if (event.defaultPrevented) return;
    if (sent.has(form)) {
      event.preventDefault();
      return;
    }
    sent.add(form);
    // After this turn: the submission has already read the form, so a disabled button
    // cannot drop anything from it.
    setTimeout(() => {
      for (const button of buttons(form)) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      }
    }, 0);
  });

  // Back from the payment page, the browser may show this page from its cache, buttons
  // still disabled: make them usable again.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    for (const form of document.querySelectorAll("form[data-once]")) {
      sent.delete(form);
      for (const button of buttons(form)) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    }
  });
})();
