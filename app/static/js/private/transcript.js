// The page of a Private Transcript (templates/private/transcript.html): everything the
// server cannot do for it, done here.
//
// Open: fetch the envelope (GET …/private), unlock the person's keys (./keyring.js), check
// they are the keys it was sealed to, decrypt (./crypto.js), draw the segments. The first
// time, the envelope is the worker's SEALED one; a member who can edit stores it once as a
// CONTENT envelope under their data key.
// Edit: segment text (double-click a word, or Enter on a line), a speaker's name
// everywhere, a segment's speaker. Every change is saved after a pause: the document is
// encrypted here and PUT with If-Match: the revision it was based on. A save refused as
// stale keeps the person's text on screen and offers "Reload theirs" / "Keep mine".
// Export: TXT, SRT, VTT, JSON, DOCX and a printable view, made here (./exports.js).
//
// Nothing is ever written back unless the envelope opened: a wrong key, a changed or
// moved envelope, a reset keyring, a cancelled unlock or a network failure shows a message
// in [data-private-error] and leaves the stored envelope as it was.
//
// Markup: [data-private-transcript] with data-workspace-id, data-transcript-id, data-url,
// data-fingerprint, data-can-edit, data-low, data-title, data-created-at, data-engine,
// data-model; inside it [data-private-status], [data-private-error], [data-private-conflict],
// #speakers, #transcript-body (read by ../player.js: .segment[data-start] > span.ts,
// p.text > span.w[data-start]); [data-private-exports] with [data-private-export=fmt],
// [data-private-print]; #private-print.

import { t } from "../i18n.js";
import { PrivateCryptoError, encryptDocument, fingerprint, fromBase64, openEnvelope } from "./crypto.js";
import { loadKeyring, requestUnlock, unlockedKeys } from "./keyring.js";
import * as D from "./document.js";
import * as X from "./exports.js";

const AUTOSAVE_MS = 1500;
const RETRY_MS = 5000;

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (_err) {
    return "";
  }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const at2 = (time) => (time === null || time === undefined ? "" : Number(time).toFixed(2));

// A failure to show: `kind` names the case for tests and styles.
class Failure extends Error {
  constructor(kind, message, { retry = false, unlock = false } = {}) {
    super(message);
    this.kind = kind;
    this.retry = retry;
    this.unlock = unlock;
  }
}

function answered(resp) {
  return t("the server answered %(status)s", { status: resp.status });
}

async function refusal(resp) {
  try {
    const body = await resp.json();
    return body.error || answered(resp);
  } catch (_err) {
    return answered(resp);
  }
}

class PrivateTranscript {
  constructor(root) {
    this.root = root;
    const d = root.dataset;
    this.workspaceId = d.workspaceId;
    this.id = d.transcriptId;
    this.url = d.url;
    this.expected = d.fingerprint;
    this.canEdit = d.canEdit === "1";
    this.low = Number(d.low) || D.LOW_CONFIDENCE;
    this.meta = { id: d.transcriptId, title: d.title, createdAt: d.createdAt || null, engine: d.engine, model: d.model, revision: 1 };
    this.statusEl = root.querySelector("[data-private-status]");
    this.errorEl = root.querySelector("[data-private-error]");
    this.conflictEl = root.querySelector("[data-private-conflict]");
    this.speakersEl = root.querySelector("#speakers");
    this.body = root.querySelector("#transcript-body");
    this.segmentsEl = root.querySelector("[data-private-segments]");
    this.exportsEl = document.querySelector("[data-private-exports]");
    this.keys = null;
    this.doc = null; // set only once an envelope opened: nothing is saved before that
    this.revision = null; // what the shown document is based on
    this.kind = null; // "sealed" or "content"
    this.dirty = false;
    this.saving = null;
    this.again = false;
    this.conflict = null; // {revision, message} while a stale save waits for a choice
    this.timer = 0;
    this.editing = null; // {index, box, note, saved}
  }

  start() {
    this.bindEditing();
    this.bindExports();
    window.addEventListener("beforeunload", (event) => {
      const typing = this.editing && this.editing.box.value !== this.doc?.segments[this.editing.index]?.text;
      if (this.dirty || this.saving || typing) event.preventDefault();
    });
    // Locked in another tab or on the account page: save what is pending, then forget.
    document.addEventListener("private:keys", (event) => {
      if (!event.detail?.unlocked && this.doc) this.locked();
    });
    this.open();
  }

  // ---------------------------------------------------------------- messages

  say(text, kind = "") {
    this.statusEl.textContent = text;
    this.statusEl.dataset.kind = kind;
  }

  // While a stale save waits for the person's choice, that stays the news.
  sayUnsaved(note = "") {
    if (this.conflict) this.say(t("Not saved: choose a version"), "error");
    else this.say(note || t("Unsaved changes…"), "");
  }

  showFailure(failure) {
    const box = this.errorEl;
    box.replaceChildren(el("p", { className: "msg", text: failure.message }));
    box.dataset.kind = failure.kind;
    const actions = el("p", { className: "actions" });
    if (failure.unlock) {
      const button = el("button", { type: "button", className: "small", text: t("Unlock") });
      button.addEventListener("click", () => this.open());
      actions.append(button);
    }
    if (failure.retry) {
      const button = el("button", { type: "button", className: "small secondary", text: t("Try again") });
      button.addEventListener("click", () => this.open());
      actions.append(button);
    }
    if (failure.kind === "no-keyring" || failure.kind === "keyring-reset") {
      actions.append(el("a", { href: "/account/private", text: t("Private Transcript settings") }));
    }
    if (actions.childNodes.length) box.append(actions);
    box.hidden = false;
  }

  clearFailure() {
    this.errorEl.hidden = true;
    this.errorEl.replaceChildren();
    delete this.errorEl.dataset.kind;
  }

  // ---------------------------------------------------------------- opening

  async open() {
    this.clearFailure();
    this.say(t("Decrypting in this browser…"), "busy");
    try {
      await this.keyring();
      const envelope = await this.fetchEnvelope();
      const keys = await this.unlock();
      const doc = await this.decrypt(envelope.bytes, keys);
      this.keys = keys;
      this.doc = doc;
      this.revision = envelope.revision;
      this.kind = envelope.kind;
      this.meta.revision = envelope.revision;
      this.dirty = false;
      this.conflict = null;
      this.hideConflict();
      this.render();
      this.setExports(true);
      this.say(t("Decrypted in this browser."), "ok");
      this.root.dataset.state = "open";
      // The worker's envelope opens with the private key; stored again under the data key
      // it no longer depends on a key the worker chose.
      if (this.kind === "sealed" && this.canEdit) await this.save({ reseal: true });
    } catch (err) {
      const failure =
        err instanceof Failure
          ? err
          : new Failure("error", t("Something went wrong: %(error)s", { error: err?.message || err }), { retry: true });
      this.forget();
      this.root.dataset.state = failure.kind;
      this.say("");
      this.showFailure(failure);
    }
  }

  async keyring() {
    let material;
    try {
      material = await loadKeyring();
    } catch (err) {
      throw new Failure("network", t("Your keyring could not be loaded: %(error)s", { error: err.message }), {
        retry: true,
      });
    }
    if (!material) {
      throw new Failure(
        "no-keyring",
        t("Private Transcript is not set up on your account any more (it was reset), so this transcript cannot be opened."),
      );
    }
    const current = material.fingerprint || (await fingerprint(fromBase64(material.public_key)));
    if (this.expected && current !== this.expected) throw this.resetFailure();
    return material;
  }

  resetFailure() {
    return new Failure(
      "keyring-reset",
      t("This transcript was encrypted for a keyring that has since been reset: your current keys cannot open it. Only the passphrase or recovery key of the old keyring could, and those no longer exist here."),
    );
  }

  async fetchEnvelope() {
    let resp;
    try {
      resp = await fetch(this.url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/octet-stream" } });
    } catch (_err) {
      throw new Failure("network", t("The encrypted transcript could not be loaded: the server could not be reached."), {
        retry: true,
      });
    }
    if (!resp.ok) {
      throw new Failure(
        "network",
        t("The encrypted transcript could not be loaded: %(reason)s", { reason: await refusal(resp) }),
        { retry: true },
      );
    }
    return {
      bytes: new Uint8Array(await resp.arrayBuffer()),
      revision: Number(resp.headers.get("X-Verbatim-Revision")),
      kind: resp.headers.get("X-Verbatim-Envelope"),
    };
  }

  async unlock() {
    let keys;
    try {
      keys = (await unlockedKeys()) || (await requestUnlock());
    } catch (err) {
      if (err?.message === "cancelled") {
        throw new Failure("locked", t("Your Private Transcript keys are locked: unlock them to read this transcript."), {
          unlock: true,
        });
      }
      throw new Failure("network", t("Your keys could not be unlocked: %(error)s", { error: err?.message || err }), {
        retry: true,
      });
    }
    if (this.expected && keys.fingerprint !== this.expected) throw this.resetFailure();
    return keys;
  }

  async decrypt(bytes, keys) {
    try {
      return D.readDocument(await openEnvelope(bytes, keys, this.workspaceId, this.id));
    } catch (err) {
      if (err instanceof PrivateCryptoError || err instanceof D.DocumentError) {
        throw new Failure("decrypt", t("This transcript could not be decrypted with your key: %(error)s", { error: err.message }));
      }
      throw err;
    }
  }

  // Drop the decrypted text from the page and from memory.
  forget() {
    clearTimeout(this.timer);
    this.doc = null;
    this.keys = null;
    this.dirty = false;
    this.editing = null;
    this.segmentsEl.replaceChildren();
    this.speakersEl.hidden = true;
    this.speakersEl.querySelector("ul").replaceChildren();
    this.hideConflict();
    this.setExports(false);
    document.getElementById("private-print")?.replaceChildren();
  }

  async locked() {
    this.commitEditing(true, false);
    if (this.dirty || this.saving) await this.save();
    this.forget();
    this.root.dataset.state = "locked";
    this.say("");
    this.showFailure(
      new Failure("locked", t("Your Private Transcript keys were locked: unlock them to read this transcript."), {
        unlock: true,
      }),
    );
  }

  // ---------------------------------------------------------------- drawing

  render() {
    const model = D.view(this.doc, this.low);
    this.renderSpeakers(model);
    const frag = document.createDocumentFragment();
    for (const seg of model.segments) frag.append(this.segmentNode(seg, model));
    if (!model.segments.length) frag.append(el("p", { className: "muted", text: t("No speech was found in this recording.") }));
    this.segmentsEl.replaceChildren(frag);
    this.editing = null;
  }

  segmentNode(seg, model) {
    const node = el("div", {
      className: "segment",
      dataset: { index: String(seg.index), start: at2(seg.start), end: at2(seg.end) },
    });
    if (seg.speaker) node.dataset.speaker = seg.speaker;
    node.append(el("span", { className: "ts", text: `[${seg.stamp}]` }));
    if (this.canEdit && model.speakers.length) {
      node.append(
        el("button", {
          type: "button",
          className: "speaker link",
          dataset: { segSpeaker: "" },
          title: t("Change who said this"),
          text: seg.name || t("No speaker"),
        }),
      );
    } else if (seg.name) {
      node.append(el("span", { className: "speaker", text: seg.name }));
    }
    const text = el("p", { className: "text", dataset: { segText: "" } });
    if (this.canEdit) {
      text.tabIndex = 0;
      text.title = t("Double-click a word or press Enter to edit");
    }
    if (seg.words) {
      seg.words.forEach((w, i) => {
        if (i) text.append(model.joiner);
        const span = el("span", { className: w.low ? "w low" : "w", dataset: { start: at2(w.start), end: at2(w.end), i: String(i) } }, w.text);
        if (w.p !== null) span.dataset.p = w.p.toFixed(2);
        text.append(span);
      });
    } else {
      text.textContent = seg.text;
    }
    node.append(text);
    return node;
  }

  redrawSegment(index) {
    const old = this.segmentsEl.querySelector(`.segment[data-index="${index}"]`);
    const model = { joiner: D.joiner(this.doc.language), speakers: this.doc.speakers };
    const fresh = this.segmentNode(D.segmentView(this.doc, index, this.low), model);
    if (old) old.replaceWith(fresh);
    return fresh;
  }

  renderSpeakers(model) {
    const list = this.speakersEl.querySelector("ul");
    list.replaceChildren(
      ...model.speakers.map((s) => {
        if (!this.canEdit) return el("li", {}, `${s.name} `, el("small", { text: s.label }));
        const input = el("input", {
          type: "text",
          name: "name",
          required: true,
          maxlength: String(D.MAX_NAME),
          value: s.name,
          "aria-label": t("Name of %(speaker)s", { speaker: s.label }),
        });
        const form = el(
          "form",
          { className: "inline speaker-form", dataset: { label: s.label } },
          input,
          el("button", { type: "submit", className: "small", text: t("Rename") }),
          el("small", { text: s.label }),
        );
        return el("li", {}, form);
      }),
    );
    this.speakersEl.hidden = !model.speakers.length;
  }

  // ---------------------------------------------------------------- editing

  change(doc, note = "") {
    if (doc === this.doc) return;
    this.doc = doc;
    this.dirty = true;
    this.sayUnsaved(note);
    clearTimeout(this.timer);
    if (!this.conflict) this.timer = setTimeout(() => this.save(), AUTOSAVE_MS);
  }

  bindEditing() {
    if (!this.canEdit) return;
    this.segmentsEl.addEventListener("dblclick", (event) => {
      const text = event.target.closest?.("[data-seg-text]");
      if (!text || !this.doc) return;
      const word = event.target.closest("span.w");
      this.edit(text.closest(".segment"), word);
    });
    this.segmentsEl.addEventListener("keydown", (event) => {
      const text = event.target.closest?.("[data-seg-text]");
      if (text && event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.edit(text.closest(".segment"));
      }
    });
    this.segmentsEl.addEventListener("click", (event) => {
      const button = event.target.closest?.("[data-seg-speaker]");
      if (button) this.chooseSpeaker(button);
    });
    this.speakersEl.addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target.closest("form[data-label]");
      if (form) this.rename(form);
    });
  }

  edit(segNode, word = null) {
    if (!segNode) return;
    const index = Number(segNode.dataset.index);
    if (this.editing?.index === index) return;
    this.commitEditing(true);
    const seg = this.doc.segments[index];
    const text = segNode.querySelector("[data-seg-text]");
    const box = el("textarea", {
      className: "seg-input",
      rows: "2",
      "aria-label": t("Text at %(time)s", { time: D.stamp(seg.start) }),
    });
    box.value = seg.text;
    const note = el("p", { className: "seg-note", role: "alert", hidden: true });
    text.hidden = true;
    text.after(box, note);
    segNode.classList.add("editing");
    this.editing = { index, box, note, segNode };
    box.addEventListener("input", () => {
      note.hidden = true;
      clearTimeout(this.timer);
      this.sayUnsaved();
      this.timer = setTimeout(() => this.commitEditing(false) && this.save(), AUTOSAVE_MS);
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        if (this.commitEditing(true)) this.save();
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.closeEditing(); // what was typed since the last commit is dropped
      }
    });
    // Leaving the box saves it; focus stays where the person moved it.
    box.addEventListener("focusout", () => {
      if (this.editing?.box === box && this.commitEditing(true, false)) this.save();
    });
    box.focus();
    // Double-clicking a word selects it in the box, ready to be typed over.
    const offset = word ? this.wordOffset(text, word) : null;
    if (offset) box.setSelectionRange(offset[0], offset[1]);
    else box.setSelectionRange(box.value.length, box.value.length);
  }

  wordOffset(text, word) {
    let at = 0;
    for (const node of text.childNodes) {
      if (node === word) return [at, at + word.textContent.length];
      at += node.textContent.length;
    }
    return null;
  }

  // Put the open box's text into the document; `close` also puts the line back (and focus
  // on it with `refocus`). False when the text is refused: the box stays, with the reason.
  commitEditing(close, refocus = close) {
    const editing = this.editing;
    if (!editing || !this.doc) return false;
    let doc;
    try {
      doc = D.setSegmentText(this.doc, editing.index, editing.box.value);
    } catch (err) {
      if (!(err instanceof D.DocumentError)) throw err;
      editing.note.textContent = err.message;
      editing.note.hidden = false;
      this.say(t("Not saved"), "error");
      return false;
    }
    this.change(doc);
    if (close) this.closeEditing(refocus);
    return true;
  }

  closeEditing(refocus = true) {
    const editing = this.editing;
    if (!editing) return;
    this.editing = null;
    const fresh = this.redrawSegment(editing.index);
    if (refocus) fresh.querySelector("[data-seg-text]")?.focus();
  }

  chooseSpeaker(button) {
    const segNode = button.closest(".segment");
    const index = Number(segNode.dataset.index);
    const seg = this.doc.segments[index];
    const select = el(
      "select",
      { className: "seg-speaker", "aria-label": t("Speaker at %(time)s", { time: D.stamp(seg.start) }) },
      ...this.doc.speakers.map((s) => el("option", { value: s.label, selected: s.label === seg.speaker }, s.name)),
      el("option", { value: "", selected: !seg.speaker }, t("No speaker")),
      el("option", { value: "+new" }, t("New speaker…")),
    );
    button.replaceWith(select);
    select.focus();
    // Redrawing removes the focused select, which fires blur: settle once.
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      this.redrawSegment(index);
    };
    select.addEventListener("change", () => {
      if (settled) return;
      settled = true;
      let doc = this.doc;
      let label = select.value || null;
      if (label === "+new") ({ doc, label } = D.addSpeaker(doc));
      const next = D.setSegmentSpeaker(doc, index, label);
      this.change(next);
      this.renderSpeakers(D.view(this.doc, this.low));
      this.redrawSegment(index).querySelector("[data-seg-speaker]")?.focus();
    });
    select.addEventListener("blur", done);
    select.addEventListener("keydown", (event) => {
      if (event.key === "Escape") done();
    });
  }

  rename(form) {
    const label = form.dataset.label;
    const input = form.querySelector("input[name=name]");
    this.commitEditing(true, false); // an open box's text first, so the rename keeps it
    let doc;
    try {
      doc = D.renameSpeaker(this.doc, label, input.value);
    } catch (err) {
      if (!(err instanceof D.DocumentError)) throw err;
      this.say(err.message, "error");
      return;
    }
    this.change(doc);
    const name = D.speakerName(doc, label);
    input.value = name;
    for (const node of this.segmentsEl.querySelectorAll(`.segment[data-speaker="${CSS.escape(label)}"] .speaker`)) {
      node.textContent = name;
    }
    this.say(t("%(label)s is now called %(name)s. Saving…", { label, name }), "busy");
    this.save();
  }

  // ---------------------------------------------------------------- saving

  // Encrypt the document and store it, based on the revision it was opened or last saved
  // at. `overwrite`: based on the revision a stale save was refused for ("Keep mine").
  // `reseal`: the first save of the worker's envelope, with nothing changed by the person.
  save({ overwrite = false, reseal = false } = {}) {
    if (!this.doc || !this.keys || !this.canEdit) return Promise.resolve();
    if (this.conflict && !overwrite) return Promise.resolve();
    if (!this.dirty && !overwrite && !reseal) return this.saving || Promise.resolve();
    if (this.saving) {
      this.again = true;
      return this.saving;
    }
    clearTimeout(this.timer);
    const doc = this.doc;
    const base = overwrite ? this.conflict.revision : this.revision;
    this.dirty = false;
    this.say(reseal ? t("Storing it under your key…") : t("Saving…"), "busy");
    this.saving = this.put(doc, base, reseal).finally(() => {
      this.saving = null;
      if (this.again) {
        this.again = false;
        if (this.dirty && !this.conflict && this.doc) this.save();
      }
    });
    return this.saving;
  }

  async put(doc, base, reseal) {
    let resp;
    try {
      const envelope = await encryptDocument(doc, this.keys.contentKey, this.workspaceId, this.id);
      resp = await fetch(this.url, {
        method: "PUT",
        body: envelope,
        credentials: "same-origin",
        headers: { "Content-Type": "application/octet-stream", "If-Match": `"${base}"`, "X-CSRFToken": csrfToken() },
      });
    } catch (_err) {
      this.failedSave(t("Not saved: the server could not be reached. Trying again shortly…"));
      return;
    }
    if (!this.doc) return; // forgotten meanwhile (locked)
    if (resp.ok) {
      const body = await resp.json();
      this.revision = body.revision;
      this.meta.revision = body.revision;
      this.kind = "content";
      this.conflict = null;
      this.hideConflict();
      if (this.dirty) this.say(t("Unsaved changes…"), "");
      else this.say(reseal ? t("Decrypted in this browser and stored under your key.") : t("Saved"), "ok");
      return;
    }
    const message = await this.readRefusal(resp);
    if (resp.status === 409 && Number.isInteger(message.revision)) {
      if (reseal && !this.dirty) {
        // Stored elsewhere meanwhile (another tab did this same step): show theirs.
        await this.open();
        return;
      }
      this.dirty = true;
      this.showConflict(message.error, message.revision);
      return;
    }
    this.dirty = true;
    this.say(t("Not saved: %(reason)s", { reason: message.error }), "error");
  }

  async readRefusal(resp) {
    try {
      const body = await resp.json();
      return { error: body.error || answered(resp), revision: body.revision };
    } catch (_err) {
      return { error: answered(resp) };
    }
  }

  failedSave(message) {
    this.dirty = true;
    this.say(message, "error");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), RETRY_MS);
  }

  showConflict(message, revision) {
    this.conflict = { revision, message };
    clearTimeout(this.timer);
    this.say(t("Not saved: choose a version"), "error");
    const reload = el("button", { type: "button", className: "small secondary", text: t("Reload theirs") });
    const keep = el("button", { type: "button", className: "small", text: t("Keep mine (overwrite)") });
    reload.addEventListener("click", () => {
      this.conflict = null;
      this.open();
    });
    keep.addEventListener("click", () => {
      this.commitEditing(false);
      this.save({ overwrite: true });
    });
    this.conflictEl.replaceChildren(
      el("p", { className: "msg", text: message }),
      el(
        "p",
        { className: "muted" },
        t("Reload theirs to see the saved version (your changes here are dropped), or keep yours and overwrite it."),
      ),
      el("p", { className: "choose" }, reload, keep),
    );
    this.conflictEl.hidden = false;
  }

  hideConflict() {
    this.conflictEl.hidden = true;
    this.conflictEl.replaceChildren();
  }

  // ---------------------------------------------------------------- exports

  bindExports() {
    if (!this.exportsEl) return;
    this.setExports(false);
    this.exportsEl.addEventListener("click", (event) => {
      const button = event.target.closest?.("button[data-private-export], button[data-private-print]");
      if (!button || !this.doc) return;
      this.commitEditing(false);
      const options = this.exportOptions();
      if (button.dataset.privatePrint !== undefined) {
        this.print(options);
        return;
      }
      const format = button.dataset.privateExport;
      X.download(X.exportFile(format, this.doc, this.meta, options, this.root.dataset.printDetails || ""));
    });
  }

  exportOptions() {
    const checked = (name) => Boolean(this.exportsEl.querySelector(`input[name=${name}]`)?.checked);
    return { timestamps: checked("timestamps"), speakers: checked("speakers"), paragraphs: checked("paragraphs") };
  }

  setExports(on) {
    if (!this.exportsEl) return;
    this.exportsEl.querySelectorAll("button").forEach((b) => {
      b.disabled = !on;
    });
    this.exportsEl.dataset.ready = on ? "1" : "0";
  }

  // A printable copy of the transcript (title, details, the text as the options ask),
  // shown only by the print stylesheet; the browser's dialog saves it as PDF too.
  print(options) {
    const view = document.getElementById("private-print");
    const ed = X.exportDocument(this.doc, this.meta);
    const details = [this.root.dataset.printDetails].filter(Boolean).join(" · ");
    const parts = [el("h1", { text: ed.title })];
    if (details) parts.push(el("p", { className: "details", text: details }));
    for (const block of X.blocks(ed, options)) {
      const head = X.heading(block, options);
      const para = el("div", { className: "block" });
      if (head) para.append(el("p", { className: "head", text: head }));
      para.append(el("p", { className: "text", text: block.text }));
      parts.push(para);
    }
    view.replaceChildren(...parts);
    window.print();
  }
}

const root = document.querySelector("[data-private-transcript]");
if (root) new PrivateTranscript(root).start();
