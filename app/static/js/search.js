// Search (templates/search/page.html), without inline script (the CSP forbids it).
//
// "/" puts the cursor in the search box, or on other pages of the workspace opens the search
// page (the navigation's link, a[data-search-link]). htmx fetches the results as the person types;
// this file only fills in what htmx does not: showing a 503's message instead of dropping
// it, saying when the server cannot be reached, marking the results busy, and putting the
// form back in step with the address after Back. Loaded as a module, by the layout and by
// the search page: a module runs once however many pages' parts include it.

import { t } from "./i18n.js";

const RESULTS = "search-results";

function typingIn(el) {
  if (!(el instanceof Element)) return false;
  return Boolean(el.isContentEditable || el.closest("input, textarea, select, [role='textbox']"));
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.defaultPrevented) return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (typingIn(event.target)) return;
  const box = document.querySelector("[data-search-box]");
  const link = document.querySelector("a[data-search-link]");
  if (!box && !link) return;
  event.preventDefault(); // the "/" is a shortcut, not the first character of a search
  if (!box) {
    window.location.assign(link.href); // the search page puts the cursor in its box
    return;
  }
  box.focus();
  const end = box.value.length;
  box.setSelectionRange(end, end);
});

function aimsAtResults(event) {
  const target = event.detail && event.detail.target;
  return Boolean(target && target.id === RESULTS);
}

function results() {
  return document.getElementById(RESULTS);
}

// The address htmx pushes is the one people share: leave out empty filters and the default
// sort, as the server does in the pager's links.
document.addEventListener("htmx:configRequest", (event) => {
  if (!aimsAtResults(event)) return;
  const data = event.detail.formData;
  for (const name of new Set(data.keys())) {
    const values = data.getAll(name);
    if (values.every((v) => v === "") || (name === "sort" && values.join() === "relevance")) {
      data.delete(name);
    }
  }
});

// A search server that is down answers 503 with a message: show it like any result.
document.addEventListener("htmx:beforeSwap", (event) => {
  if (aimsAtResults(event) && event.detail.xhr.status === 503) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

document.addEventListener("htmx:beforeRequest", (event) => {
  if (aimsAtResults(event)) results().setAttribute("aria-busy", "true");
});

document.addEventListener("htmx:afterRequest", (event) => {
  if (aimsAtResults(event)) results().setAttribute("aria-busy", "false");
});

document.addEventListener("htmx:sendError", (event) => {
  if (!aimsAtResults(event)) return;
  const box = results();
  const message = document.createElement("div");
  message.className = "flash error search-message";
  message.setAttribute("role", "alert");
  message.textContent = t("The server could not be reached. Check the connection and try again.");
  box.replaceChildren(message);
});

// htmx restores an earlier page from its snapshot, which keeps the markup but not what was
// typed or chosen since: set the fields from the address the page is back at.
document.addEventListener("htmx:historyRestore", () => {
  const form = document.getElementById("search-form");
  if (!form) return;
  const params = new URLSearchParams(window.location.search);
  for (const field of form.elements) {
    if (!field.name || field.type === "hidden" || field.type === "submit") continue;
    const value = params.get(field.name) || "";
    if (field instanceof HTMLSelectElement && !Array.from(field.options).some((o) => o.value === value)) {
      field.value = field.options.length ? field.options[0].value : "";
    } else {
      field.value = value;
    }
  }
});
