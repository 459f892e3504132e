// Behaviour without inline script (the CSP forbids it): confirmations and copy buttons.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
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
