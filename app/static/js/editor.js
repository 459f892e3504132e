// Editing on the transcript page (templates/transcripts/_body.html) and the review pass.
//
// A member edits a segment's text where it is: double-click a word, press Enter on a line,
// or use its Edit button. The text becomes a box that saves itself after a pause in typing
// and when it loses focus. Each save names the revision the person's copy of the segment
// was current as of; when someone else saved that segment meanwhile the server refuses
// (409) and both versions are shown, the person's text staying in the box until they
// choose. Enter saves and closes, Escape drops what was typed since the last save,
// Shift+Enter splits the segment at the cursor. "More…" opens the segment's tools (speaker,
// times, split, merge), served as an htmx panel by app/transcripts/editor_routes.py.
//
// Markup read here: #transcript-body[data-editor][data-revision][data-segments],
// div.segment[data-id][data-rev] > p.text, #seg-toolbar, #editor-status.

import { t } from "./i18n.js";

const AUTOSAVE_MS = 1500;
const RETRY_MS = 5000;
const BODY = "#transcript-body";

const body = () => document.querySelector(BODY);
const editable = () => Boolean(body()?.hasAttribute("data-editor"));
const segmentById = (id) => document.getElementById(`seg-${id}`);

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (_err) {
    return "";
  }
}

function say(text, kind = "") {
  const el = document.getElementById("editor-status");
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
}

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html; // the server's own markup: every piece of text in it is escaped
  return template.content;
}

// ---- Revisions -------------------------------------------------------------------------------

// The revision the page as a whole shows. A segment saved since carries its own (data-rev).
function pageRevision() {
  return Number(body()?.dataset.revision || 0);
}

function setPageRevision(n) {
  const el = body();
  if (!el) return;
  el.dataset.revision = String(n);
  document.querySelectorAll("input[data-page-revision]").forEach((input) => {
    input.value = String(n);
  });
}

// A save answered with revision n. Right after the page's revision: nobody else saved
// meanwhile, so the whole page is current as of n. Further on: others saved too.
function noteRevision(n) {
  if (!Number.isFinite(n) || n <= 0) return;
  const page = pageRevision();
  if (n === page + 1) setPageRevision(n);
  else if (n > page + 1) othersSaved();
}

function othersSaved() {
  const el = document.getElementById("editor-status");
  if (!el || el.querySelector("a[data-reload]")) return;
  say(`${t("Saved. Others have saved changes too:")} `, "warn");
  const link = document.createElement("a");
  link.href = window.location.pathname;
  link.dataset.reload = "";
  link.textContent = t("reload to see them");
  el.append(link, ".");
}

function baseOf(seg) {
  return Number(seg.dataset.rev || pageRevision());
}

async function post(url, fields) {
  const data = new FormData();
  Object.entries(fields).forEach(([k, v]) => data.append(k, String(v)));
  const resp = await fetch(url, {
    method: "POST",
    body: data,
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
  });
  return { resp, html: await resp.text(), revision: Number(resp.headers.get("X-Revision")) };
}

// The toolbar moves into the segment it serves; take it out before that segment goes.
function rescueToolbar(leaving) {
  const bar = document.getElementById("seg-toolbar");
  if (bar && leaving instanceof Element && leaving.contains(bar)) {
    bar.hidden = true;
    body()?.append(bar);
  }
}

// Swap segments rendered by the server in place of `seg` (one, or two after a split).
function replaceSegment(seg, html) {
  const fresh = Array.from(fragment(html).querySelectorAll(".segment"));
  if (!fresh.length || !seg.isConnected) return fresh[0] || null;
  rescueToolbar(seg);
  seg.replaceWith(...fresh);
  fresh.forEach(prepare);
  return fresh[0];
}

// ---- The in-place editor -----------------------------------------------------------------------

let active = null; // the open Editor, one at a time

class Editor {
  constructor(seg) {
    this.id = seg.dataset.id;
    this.base = baseOf(seg);
    this.saved = seg.querySelector("p.text").textContent;
    this.fresh = null; // the server's rendering after the last save
    this.timer = 0;
    this.busy = null; // the save in flight
    this.again = false;
    this.blocked = false; // a refusal waits for the person's choice
    this.failed = false; // the last save did not go through
    this.forced = false; // save even if the text is what was saved ("keep mine")
    this.closing = false;
    this.closed = false;
    this.box = document.createElement("textarea");
    this.box.className = "seg-input";
    this.box.value = this.saved;
    this.box.rows = 2;
    this.box.spellcheck = true;
    this.note = document.createElement("div");
    this.note.className = "seg-note";
    this.box.addEventListener("input", () => this.schedule());
    this.box.addEventListener("keydown", (event) => this.key(event));
    this.box.addEventListener("focusout", () => this.left());
    this.attach();
  }

  get seg() {
    return segmentById(this.id);
  }

  get url() {
    return `${body().dataset.segments}${this.id}`;
  }

  attach() {
    const seg = this.seg;
    if (!seg) {
      // Gone from the page (merged, or a restore): keep the text where it can be copied.
      const refusal = document.createElement("div");
      refusal.className = "edit-refusal";
      refusal.setAttribute("role", "alert");
      const msg = document.createElement("p");
      msg.className = "msg";
      msg.textContent = t("This segment is no longer in the transcript. Your text is below: copy it before you reload.");
      refusal.append(msg);
      this.refuse(refusal.outerHTML, false);
      document.querySelector(`${BODY} .segments`)?.prepend(this.note, this.box);
      return;
    }
    const text = seg.querySelector("p.text");
    if (!this.dirty && text.textContent !== this.saved && !this.blocked) {
      // The page now shows a newer version and nothing here is unsaved: edit that one.
      this.saved = text.textContent;
      this.box.value = this.saved;
      this.base = baseOf(seg);
    }
    seg.classList.add("editing");
    text.hidden = true;
    text.after(this.box, this.note);
  }

  detach() {
    this.box.remove();
    this.note.remove();
  }

  get dirty() {
    return this.forced || this.box.value !== this.saved;
  }

  focus(start, end) {
    this.box.focus();
    const at = start ?? this.box.value.length;
    this.box.setSelectionRange(at, end ?? at);
  }

  schedule() {
    clearTimeout(this.timer);
    if (this.blocked) return;
    say(t("Unsaved changes…"), "");
    this.timer = setTimeout(() => this.save(), AUTOSAVE_MS);
  }

  async save() {
    clearTimeout(this.timer);
    if (this.blocked) return;
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    if (!this.dirty) return;
    const text = this.box.value;
    this.busy = this.send(text);
    try {
      await this.busy;
    } finally {
      this.busy = null;
    }
    if (this.again) {
      this.again = false;
      await this.save();
    }
  }

  async send(text) {
    say(t("Saving…"), "busy");
    const seg = this.seg;
    seg?.classList.add("saving");
    let answer;
    try {
      answer = await post(this.url, { text, base_revision: this.base });
    } catch (_err) {
      this.failed = true;
      say(t("Not saved: the connection failed. Trying again…"), "error");
      this.timer = setTimeout(() => this.save(), RETRY_MS);
      return;
    } finally {
      seg?.classList.remove("saving");
    }
    const { resp, html, revision } = answer;
    if (resp.ok) {
      this.failed = false;
      this.forced = false;
      this.saved = text;
      this.base = revision;
      this.fresh = html;
      this.clearNote();
      say(t("Saved"), "ok");
      noteRevision(revision);
      if (this.closed && this.seg) replaceSegment(this.seg, html); // closed while saving
      else if (this.seg) this.seg.dataset.rev = String(revision);
    } else if (resp.status === 401) {
      this.failed = true;
      say(t("Not saved: you were signed out. Sign in again in another tab, then save."), "error");
    } else {
      this.failed = true;
      this.refuse(html, resp.status === 409);
      say(resp.status === 409 ? t("Conflict: choose a version") : t("Not saved"), "error");
    }
  }

  refuse(html, conflict) {
    this.clearNote();
    this.note.append(fragment(html));
    this.blocked = conflict;
    this.closing = false;
    const box = this.note.querySelector(".edit-refusal");
    this.note.querySelectorAll("[data-conflict]").forEach((button) => {
      button.addEventListener("click", () => this.choose(button.dataset.conflict, box));
    });
  }

  clearNote() {
    this.note.replaceChildren();
  }

  choose(choice, refusal) {
    if (choice === "reload") {
      window.location.reload();
    } else if (choice === "mine") {
      // Save the person's text over theirs: based on the revision they now have seen.
      this.base = Number(refusal.dataset.rev);
      this.blocked = false;
      this.forced = true;
      this.clearNote();
      this.focus();
      this.save();
    } else if (choice === "theirs") {
      const theirs = this.note.querySelector("template[data-theirs]");
      this.blocked = false;
      this.fresh = theirs ? theirs.innerHTML : null;
      this.saved = this.box.value; // dropped on purpose: the person chose theirs
      this.close();
    }
  }

  key(event) {
    if (event.isComposing) return;
    if (event.key === "Escape") {
      event.preventDefault();
      if (this.blocked) return; // a conflict's text is never dropped by a stray key
      this.box.value = this.saved;
      this.close();
    } else if (event.key === "Enter" && event.shiftKey && !event.altKey) {
      event.preventDefault();
      this.split();
    } else if (event.key === "Enter" && !event.altKey) {
      event.preventDefault();
      this.finish();
    } else if (event.key === "s" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.save();
    }
  }

  left() {
    // Autosave on blur; close once focus is really gone (not to a button of the note, and
    // not because the window lost focus).
    setTimeout(() => {
      if (this.closed) return;
      const inside = this.seg?.contains(document.activeElement) ||
        this.note.contains(document.activeElement) || document.activeElement === this.box;
      if (inside) {
        this.save();
      } else {
        this.finish();
      }
    }, 0);
  }

  // Save what is left, then close; stays open when a save fails or is refused.
  async finish() {
    if (this.blocked || this.closed) return;
    this.closing = true;
    this.failed = false; // one more try
    for (;;) {
      if (this.busy) {
        await this.busy;
        continue;
      }
      if (!this.dirty || this.failed || this.blocked || !this.closing) break;
      await this.save();
    }
    if (this.closing && !this.dirty && !this.blocked) this.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (active === this) active = null;
    clearTimeout(this.timer);
    const seg = this.seg;
    // Keep the focus where the person put it (another line's box, a form); back on this
    // line only when it was in the box.
    const here = document.activeElement === this.box || document.activeElement === document.body;
    this.detach();
    if (!seg) return;
    seg.classList.remove("editing");
    let text = seg.querySelector("p.text");
    if (this.fresh) text = replaceSegment(seg, this.fresh)?.querySelector("p.text");
    else text.hidden = false;
    if (here) text?.focus();
  }

  async split() {
    if (this.blocked) return;
    // Where the cursor is, in the text as the server stores it (whitespace runs as one).
    const before = this.box.value.slice(0, this.box.selectionStart).replace(/\s+/g, " ");
    const offset = before.trimStart().length;
    await this.save();
    if (this.blocked || this.dirty) return;
    say(t("Splitting…"), "busy");
    const { resp, html, revision } = await post(`${this.url}/split`, {
      offset,
      base_revision: this.base,
    });
    if (!resp.ok) {
      this.refuse(html, resp.status === 409);
      say(t("Not split"), "error");
      return;
    }
    this.fresh = null;
    this.closed = true;
    const seg = this.seg;
    this.detach();
    if (active === this) active = null;
    const first = seg && replaceSegment(seg, html);
    noteRevision(revision);
    say(t("Split"), "ok");
    first?.nextElementSibling?.querySelector("p.text")?.focus();
  }
}

// Where in the segment's text a word starts: the editor opens with that word selected.
function wordRange(text, word) {
  let at = 0;
  for (const node of text.childNodes) {
    if (node === word) return [at, at + word.textContent.length];
    at += node.textContent.length;
  }
  return null;
}

function open(seg, word) {
  if (!seg || seg.classList.contains("editing")) return;
  if (active) {
    if (active.blocked) {
      active.focus();
      say(t("Choose a version for the segment in conflict first."), "error");
      return;
    }
    active.finish();
  }
  closeTools();
  const bar = document.getElementById("seg-toolbar");
  if (bar) bar.hidden = true;
  const range = word ? wordRange(seg.querySelector("p.text"), word) : null;
  active = new Editor(seg);
  if (range) active.focus(range[0], range[1]);
  else active.focus();
}

// ---- The toolbar and the tools panel -------------------------------------------------------

function prepare(seg) {
  const text = seg.querySelector("p.text");
  if (text && !text.hasAttribute("tabindex")) {
    text.tabIndex = 0;
    text.setAttribute("aria-label", t("Segment text: Enter edits it"));
  }
}

function showToolbar(seg) {
  const bar = document.getElementById("seg-toolbar");
  if (!bar || !seg || seg.classList.contains("editing")) return;
  if (bar.parentElement !== seg) seg.append(bar);
  bar.hidden = false;
}

function closeTools() {
  document.querySelectorAll(`${BODY} .seg-tools`).forEach((panel) => panel.remove());
  document.querySelectorAll("[data-seg-tools]").forEach((b) => b.setAttribute("aria-expanded", "false"));
}

function toggleTools(seg, button) {
  const open = document.getElementById(`tools-${seg.dataset.id}`);
  closeTools();
  if (open) return;
  button.setAttribute("aria-expanded", "true");
  const url = `${body().dataset.segments}${seg.dataset.id}?base=${baseOf(seg)}`;
  window.htmx.ajax("GET", url, { target: seg, swap: "afterend" }).then(() => {
    document.getElementById(`tools-${seg.dataset.id}`)?.querySelector("select, input, button")?.focus();
  });
}

function bindTranscript() {
  document.querySelectorAll(`${BODY} .segment`).forEach(prepare);

  document.addEventListener("dblclick", (event) => {
    if (!editable()) return;
    const word = event.target instanceof Element && event.target.closest(`${BODY} p.text span.w`);
    const text = event.target instanceof Element && event.target.closest(`${BODY} p.text`);
    if (!text) return;
    event.preventDefault();
    window.getSelection()?.removeAllRanges();
    open(text.closest(".segment"), word || null);
  });

  document.addEventListener("keydown", (event) => {
    if (!editable() || event.defaultPrevented) return;
    const target = event.target instanceof Element ? event.target : null;
    if (target?.matches(`${BODY} .segment > p.text`) && (event.key === "Enter" || event.key === "F2")) {
      event.preventDefault();
      open(target.closest(".segment"));
    } else if (event.key === "Escape" && target?.closest(".seg-tools")) {
      const id = target.closest(".seg-tools").id.replace(/^tools-/, "");
      closeTools();
      segmentById(id)?.querySelector("p.text")?.focus();
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest("[data-tools-close]")) {
      closeTools();
      return;
    }
    const seg = target.closest(`${BODY} .segment`);
    if (target.closest("[data-seg-edit]") && seg) open(seg);
    else if (target.closest("[data-seg-tools]") && seg) toggleTools(seg, target.closest("[data-seg-tools]"));
  });

  const follow = (event) => {
    if (!editable()) return;
    const seg = event.target instanceof Element && event.target.closest(`${BODY} .segment`);
    if (seg) showToolbar(seg);
  };
  document.addEventListener("mouseover", follow);
  document.addEventListener("focusin", follow);

  // Whole-body swaps (a rename, a replace-all) re-render every segment: the open editor
  // moves to the new copy of its segment with whatever was typed.
  document.addEventListener("htmx:beforeSwap", (event) => {
    rescueToolbar(event.detail.target);
    if (active && event.detail.target?.id === "transcript-body") active.detach();
  });
  document.addEventListener("htmx:oobBeforeSwap", (event) => rescueToolbar(event.detail.target));
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id === "transcript-body") {
      const el = body();
      if (el) setPageRevision(Number(el.dataset.revision));
      if (active) {
        active.attach();
        active.box.focus();
      }
    }
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const xhr = event.detail.xhr;
    const saved = event.detail.successful && event.detail.requestConfig?.verb === "post";
    if (saved && /\/segments\//.test(xhr?.responseURL || "")) {
      noteRevision(Number(xhr.getResponseHeader("X-Revision")));
    }
  });
  if (window.htmx) {
    window.htmx.onLoad((el) => {
      if (el.matches?.(".segment")) prepare(el);
      el.querySelectorAll?.(".segment").forEach(prepare);
    });
  }

  window.addEventListener("beforeunload", (event) => {
    if (active && (active.dirty || active.blocked)) {
      active.save();
      event.preventDefault();
    }
  });
}

// ---- Review pass: keep the place in the list after each action -------------------------------

function bindReview() {
  const list = () => document.getElementById("review-list");
  if (!list()) return;
  let place = 0;
  document.addEventListener("submit", (event) => {
    const item = event.target.closest?.(".review-word");
    if (item) place = Array.from(list().querySelectorAll(".review-word")).indexOf(item);
  }, true);
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id !== "review-list" && !list()?.contains(event.detail.elt)) return;
    const items = list()?.querySelectorAll(".review-word") || [];
    const next = items[Math.min(place, items.length - 1)];
    next?.querySelector('button[value="accept"]')?.focus();
  });
}

if (editable()) bindTranscript();
bindReview();
