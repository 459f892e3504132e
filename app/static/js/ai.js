// AI panel and questions across the workspace (templates/ai/), without inline script (the
// CSP forbids it). Loaded as a module by the layout: it runs once per page.
//
// - An answer being written (li[data-ai-stream]) is followed with server-sent events: the
//   pieces go into its placeholder as plain text (textContent, never markup), and on `done`
//   the server's sanitised rendering (app/ai/render.py) replaces them; `error` shows why.
// - Citations on the transcript page (a.cite, href "#t=SECONDS") move the player the way
//   any #t= address does (player.js listens for hashchange), also when clicked twice.
// - Copy puts a summary's markdown on the clipboard; Enter in a question box sends it.

import { t } from "./i18n.js";

const LOST = t("The answer could not be followed. Reload the page to see it.");
const NEAR_BOTTOM = 80; // px: a person reading back up is not scrolled down under them

// One entry per stream being followed, by its address: htmx may replace the element
// meanwhile (the next question re-renders the conversation), and the stream moves on to
// the element that replaced it rather than starting over.
const following = new Map();

function answerOf(item) {
  return item.querySelector("[data-ai-answer]");
}

function showText(state) {
  const answer = answerOf(state.item);
  if (!answer) return;
  const box = document.createElement("div");
  box.className = "ai-streaming";
  box.textContent = state.written;
  answer.replaceChildren(box);
  state.box = box;
}

function keepInView(item) {
  const list = item.closest("[data-ai-messages]");
  if (!list) return;
  const below = list.scrollHeight - list.scrollTop - list.clientHeight;
  if (below < NEAR_BOTTOM + item.offsetHeight) list.scrollTop = list.scrollHeight;
}

// The element the stream writes into, after any swap; null when it is gone for good.
function current(state) {
  if (state.item.isConnected) return state.item;
  const again = document.getElementById(state.item.id);
  // Drawn again by the server as finished (or gone): it shows the stored answer itself.
  if (!again || !again.dataset.aiStream) return null;
  state.item = again;
  again.dataset.aiFollowed = "1";
  if (state.written) showText(state);
  return again;
}

function stop(state) {
  state.source.close();
  following.delete(state.url);
}

function fail(state, message) {
  stop(state);
  const item = current(state);
  if (!item) return;
  item.dataset.status = "failed";
  item.removeAttribute("data-ai-stream");
  const box = item.querySelector("[data-ai-error]");
  if (box) {
    box.textContent = message;
    box.hidden = false;
  }
  const writing = answerOf(item)?.querySelector(".ai-writing");
  if (writing) writing.remove();
}

function follow(item) {
  const url = item.dataset.aiStream;
  const known = following.get(url);
  if (known) {
    known.item = item; // the same answer, drawn again: keep following into the new element
    item.dataset.aiFollowed = "1";
    if (known.written) showText(known);
    return;
  }
  item.dataset.aiFollowed = "1";
  const state = { url, item, written: "", box: null, source: new EventSource(url) };
  following.set(url, state);

  state.source.addEventListener("delta", (event) => {
    const target = current(state);
    if (!target) {
      stop(state);
      return;
    }
    const { text } = JSON.parse(event.data);
    state.written += text;
    if (!state.box || !state.box.isConnected) showText(state);
    else state.box.textContent = state.written;
    target.dataset.status = "running";
    keepInView(target);
  });

  state.source.addEventListener("done", (event) => {
    stop(state);
    const target = current(state);
    if (!target) return;
    const data = JSON.parse(event.data);
    if (data.status === "failed") {
      fail(state, data.error || t("The answer failed."));
      return;
    }
    // Sanitised by the server (markdown without raw HTML, then nh3; citations built
    // from checked segment times): the one place this file writes markup.
    answerOf(target).innerHTML = data.html;
    target.dataset.status = data.status || "completed";
    target.removeAttribute("data-ai-stream");
    keepInView(target);
  });

  state.source.addEventListener("error", (event) => {
    // The server's own `error` event carries a message; a bare error is the connection,
    // which EventSource retries by itself (sending Last-Event-ID) unless it gave up.
    if (event instanceof MessageEvent && typeof event.data === "string" && event.data) {
      let message = t("The answer failed.");
      try {
        message = JSON.parse(event.data).message || message;
      } catch (_err) {
        // Not JSON: keep the general message.
      }
      fail(state, message);
    } else if (state.source.readyState === EventSource.CLOSED) {
      fail(state, LOST);
    }
  });
}

function scan() {
  document.querySelectorAll("[data-ai-stream]").forEach((item) => {
    if (!item.dataset.aiFollowed) follow(item);
  });
  // Streams whose answer left the page (a cleared conversation) are let go.
  for (const state of [...following.values()]) {
    if (!current(state)) stop(state);
  }
  document.querySelectorAll("[data-ai-messages]").forEach((list) => {
    if (!list.dataset.aiScrolled) {
      list.dataset.aiScrolled = "1";
      list.scrollTop = list.scrollHeight; // the newest message in view
    }
  });
}

document.addEventListener("htmx:load", scan);
scan();

// A provider that is down or misconfigured answers 502/503 with the reason: show it in
// place, like the refusals app.js already lets through.
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  if (!target || !target.closest("#ai-panel, .ai-ask-page")) return;
  if ([502, 503].includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// The panel's section says it is loading until its first swap.
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (target && target.id === "ai-panel") target.setAttribute("aria-busy", "false");
});

document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  const cite = event.target instanceof Element ? event.target.closest("a.cite") : null;
  if (!cite) return;
  const href = cite.getAttribute("href") || "";
  if (href.startsWith("#") && window.location.hash === href) {
    // The address names this moment already, so no hashchange would come: send one.
    event.preventDefault();
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-ai-copy]") : null;
  if (!button) return;
  const source = button.closest(".ai-summary")?.querySelector(".ai-source");
  const label = t("Copy");
  try {
    if (!source || !navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = t("Copied");
  } catch (_err) {
    button.textContent = t("Copying failed: download it instead");
  }
  setTimeout(() => {
    button.textContent = label;
  }, 2500);
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  const box = event.target instanceof Element ? event.target.closest("[data-ai-question]") : null;
  if (!box || !box.form) return;
  event.preventDefault();
  if (box.value.trim()) box.form.requestSubmit();
});
