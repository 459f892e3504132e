// Behaviour without inline script (the CSP forbids it): confirmations and copy buttons.
// A form asks before it is sent when it (or the button that sent it) has data-confirm.
document.addEventListener("submit", (event) => {
  const question = event.submitter?.dataset.confirm || event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-copy]");
  if (target && navigator.clipboard) {
    navigator.clipboard.writeText(target.textContent.trim());
    target.classList.add("copied");
  }
});

// htmx answers 4xx with the refusal's partial: show it instead of dropping it.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if ([400, 403, 404, 409, 410, 422, 429].includes(status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
