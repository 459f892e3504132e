// Reading and playback on the transcript page (templates/transcripts/_player.html).
//
// The server deletes the audio after transcription, so this plays the person's own copy:
// the one this browser kept when it was uploaded (local-media.js), or a file they choose
// again, played from an object URL and never sent anywhere. Clicking a word or a segment's
// time seeks there; the word being spoken is highlighted and followed; keyboard shortcuts
// play, pause and skip; #t=83.5 in the address points at a moment.
//
// The words come from templates/transcripts/_body.html: div.segment[data-start][data-end]
// with span.ts and p.text > span.w[data-start][data-end][data-p]. That markup is swapped by
// htmx and edited in place by editor.js, so everything here is delegated or re-read lazily.
import { t } from "./i18n.js";
import * as localMedia from "./local-media.js";

const SKIP_SECONDS = 5;
const RATES = [0.75, 1, 1.25, 1.5, 1.75, 2];
const RATE_KEY = "verbatim.playback-rate";
const HOLD_SECONDS = 1.5; // a word stays current this long after its end, over short pauses
const FOLLOW_PAUSE_MS = 5000; // after the person scrolls, leave the page where they put it
// A click seeks at once but starts playback only this much later: a double click edits the
// word (editor.js) and should not set the recording off.
const DOUBLE_CLICK_MS = 350;
const BODY = "#transcript-body";

// Keys outside text fields, and the Alt combinations that work everywhere (by physical key,
// since Alt changes the character on some layouts).
const KEYS = {
  " ": "toggle",
  k: "toggle",
  K: "toggle",
  j: "back",
  J: "back",
  ArrowLeft: "back",
  l: "forward",
  L: "forward",
  ArrowRight: "forward",
  "?": "help",
};
const ALT_CODES = { KeyK: "toggle", KeyJ: "back", KeyL: "forward" };
const SCROLL_KEYS = new Set(["PageUp", "PageDown", "Home", "End", "ArrowUp", "ArrowDown"]);

// ---- Times on the page -------------------------------------------------------------------

function seconds(el) {
  return Number.parseFloat(el.dataset.start);
}

/** The seconds in a "#t=83.5" fragment (also "#t=1:23.5" and "#t=83.5,90"), or null. */
export function fragmentTime(hash) {
  const match = /^#?t=([0-9:.]+)(?:,[0-9:.]*)?$/.exec(hash || "");
  if (!match) return null;
  const parts = match[1].split(":");
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return null;
  const value = parts.reduce((sum, p) => sum * 60 + Number(p), 0);
  return Number.isFinite(value) ? value : null;
}

/** Index of the last entry whose start is <= time (entries sorted by start), or -1. */
function lastStartingBy(entries, time) {
  let lo = 0;
  let hi = entries.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid].start <= time) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Words and segments in time order, read again after the markup changes. */
class TimeIndex {
  constructor() {
    this.words = []; // {el, start, end}; a segment without word timings stands for its words
    this.segments = [];
    this.dirty = true;
  }

  /** Call `changed` (once per frame at most) after words or segments come or go. */
  watch(changed) {
    // Only elements coming or going matter (a swap, a split, a merge); typing does not.
    // The body is swapped whole (outerHTML), so watch the element around it.
    const around = document.querySelector(BODY)?.parentElement || document.body;
    new MutationObserver((records) => {
      if (this.dirty) return;
      this.dirty = records.some((r) =>
        [...r.addedNodes, ...r.removedNodes].some((node) => node.nodeType === Node.ELEMENT_NODE),
      );
      if (this.dirty) requestAnimationFrame(changed);
    }).observe(around, { childList: true, subtree: true });
  }

  refresh() {
    if (!this.dirty) return false;
    this.dirty = false;
    const entry = (el) => ({ el, start: seconds(el), end: Number.parseFloat(el.dataset.end) });
    const timed = (e) => Number.isFinite(e.start);
    const byStart = (a, b) => a.start - b.start; // stable: ties keep document order
    const segments = Array.from(document.querySelectorAll(`${BODY} .segment[data-start]`));
    this.segments = segments.map(entry).filter(timed).sort(byStart);
    this.words = segments
      .flatMap((seg) => {
        const words = seg.querySelectorAll("span.w[data-start]");
        return words.length ? Array.from(words, entry) : [entry(seg)];
      })
      .filter(timed)
      .sort(byStart);
    markLowConfidence();
    return true;
  }

  wordAt(time) {
    this.refresh();
    const i = lastStartingBy(this.words, time);
    if (i < 0) return null;
    const word = this.words[i];
    return Number.isFinite(word.end) && time > word.end + HOLD_SECONDS ? null : word.el;
  }

  segmentAt(time) {
    this.refresh();
    if (!this.segments.length) return null;
    const i = lastStartingBy(this.segments, time);
    return this.segments[Math.max(i, 0)].el;
  }
}

// Low-confidence words are underlined by player.css; the tooltip says how sure the engine was.
function markLowConfidence() {
  document.querySelectorAll(`${BODY} span.w.low[data-p]`).forEach((w) => {
    if (w.title) return;
    const p = Number.parseFloat(w.dataset.p);
    if (Number.isFinite(p)) w.title = t("Low confidence: %(percent)s%%", { percent: Math.round(p * 100) });
  });
}

// ---- Where focus and clicks are -------------------------------------------------------------

function typingIn(el) {
  if (!(el instanceof Element)) return false;
  return Boolean(
    el.isContentEditable || el.closest("input, textarea, select, [role='textbox']"),
  );
}

// Space on a button, link or summary activates it; playback must not take that away.
function activatesOnSpace(el) {
  return el instanceof Element && Boolean(el.closest("button, a[href], summary, [role='button']"));
}

function selectingText() {
  const selection = window.getSelection();
  return Boolean(selection && !selection.isCollapsed && selection.toString().trim());
}

// ---- The player ----------------------------------------------------------------------------

class Player {
  constructor(root) {
    this.root = root;
    this.id = root.dataset.transcriptId;
    this.expected = Number.parseFloat(root.dataset.duration) || 0;
    this.videoHint = root.dataset.video === "1";
    this.pick = root.querySelector("[data-player-pick]");
    this.input = root.querySelector("[data-player-input]");
    this.loaded = root.querySelector("[data-player-loaded]");
    this.holder = root.querySelector("[data-player-media]");
    this.source = root.querySelector("[data-player-source]");
    this.speed = root.querySelector("[data-player-speed]");
    this.rememberButton = root.querySelector("[data-player-remember]");
    this.forgetButton = root.querySelector("[data-player-forget]");
    this.message = root.querySelector("[data-player-message]");
    this.helpToggle = root.querySelector("[data-player-help-toggle]");
    this.help = root.querySelector("[data-player-help]");
    this.index = new TimeIndex();
    this.media = null;
    this.url = null;
    this.file = null; // {blob, name, kept}
    this.current = null;
    this.currentAt = null; // start of the current word, to tell a move from a redraw
    this.linked = null; // seconds from #t=..., highlighted until the next link
    this.pendingSeek = null; // where to go once the media can seek
    this.manualScrollAt = 0;
    this.frame = 0;
    this.playTimer = 0;
  }

  async start() {
    // New markup: its low-confidence titles, the linked segment and the current word again.
    this.index.watch(() => {
      if (!this.index.refresh()) return;
      this.restoreLinked();
      this.update();
    });
    this.index.refresh();
    // htmx settles a swap by putting back the server's attributes on elements with an id
    // (the segments), which drops the classes set in between: set them again.
    document.addEventListener("htmx:afterSettle", () => {
      this.restoreLinked();
      this.update();
    });
    this.bindControls();
    this.bindTranscript();
    this.bindKeys();
    this.watchManualScroll();
    this.speed.value = String(this.savedRate());
    const kept = await localMedia.find(this.id);
    if (kept) this.load(kept.blob, { name: kept.name, type: kept.type, kept: true });
    else this.showPicker();
    this.root.hidden = false;
    // After the player is shown, so the scroll lands where the segment ends up.
    this.followLink();
    window.addEventListener("hashchange", () => this.followLink());
  }

  say(text, kind = "") {
    this.message.textContent = text;
    this.message.dataset.kind = kind;
  }

  // -- loading and forgetting

  showPicker() {
    this.loaded.hidden = true;
    this.pick.hidden = false;
  }

  load(blob, { name, type, kept }) {
    this.unload();
    const kind = type || blob.type || "";
    const video = kind ? kind.startsWith("video/") : this.videoHint;
    const media = document.createElement(video ? "video" : "audio");
    media.controls = true;
    media.preload = "auto";
    media.className = "player-element";
    media.setAttribute("aria-label", t("Recording: %(name)s", { name }));
    media.addEventListener("loadedmetadata", () => this.onMetadata());
    media.addEventListener("error", () => {
      if (this.media !== media) return; // unloaded
      this.say(
        t("This browser cannot play “%(name)s”. A copy in another format (MP3, M4A, WebM) may work.", { name }),
        "error",
      );
    });
    media.addEventListener("play", () => this.loop());
    ["pause", "ended", "seeked", "timeupdate"].forEach((type) =>
      media.addEventListener(type, () => this.update()),
    );
    media.addEventListener("ratechange", () => {
      if (RATES.includes(media.playbackRate)) this.speed.value = String(media.playbackRate);
    });
    this.url = URL.createObjectURL(blob);
    media.src = this.url;
    media.playbackRate = Number(this.speed.value) || 1;
    this.holder.append(media);
    this.media = media;
    this.file = { blob, name, kept };
    this.describe();
    this.pick.hidden = true;
    this.loaded.hidden = false;
    document.documentElement.classList.add("player-ready");
    this.say("");
  }

  unload() {
    cancelAnimationFrame(this.frame);
    clearTimeout(this.playTimer);
    if (this.media) {
      this.media.pause();
      this.media.removeAttribute("src");
      this.media.load(); // lets go of the decoder and the object URL
      this.media.remove();
    }
    if (this.url) URL.revokeObjectURL(this.url);
    this.media = null;
    this.url = null;
    this.file = null;
    this.setCurrent(null);
    document.documentElement.classList.remove("player-ready");
  }

  describe() {
    const { name, kept } = this.file;
    this.source.textContent = kept
      ? t("Playing “%(name)s” from this device. It is kept in this browser for next time and never uploaded.", {
          name,
        })
      : t("Playing “%(name)s” from this device. It is not uploaded, and not kept: you will choose it again next time.", {
          name,
        });
    this.rememberButton.hidden = kept;
  }

  onMetadata() {
    const media = this.media;
    if (this.pendingSeek !== null) {
      this.seek(this.pendingSeek);
      this.pendingSeek = null;
    }
    // A different file plays fine but nothing lines up: say so rather than mislead.
    const length = media.duration;
    if (this.expected > 0 && Number.isFinite(length)) {
      const off = Math.abs(length - this.expected);
      if (off > Math.max(2, this.expected * 0.02)) {
        this.say(
          t("This file is %(length)s long but the transcript is of %(expected)s: is it the same recording? Times may not line up.", {
            length: clock(length),
            expected: clock(this.expected),
          }),
          "warn",
        );
      }
    }
  }

  async remember() {
    if (!this.file || this.file.kept) return;
    this.rememberButton.disabled = true;
    const kept = await localMedia.keep(this.file.blob, { name: this.file.name, ids: [this.id] });
    this.rememberButton.disabled = false;
    if (!this.file) return;
    if (kept) {
      this.file.kept = true;
      this.describe();
      this.say(t("Kept in this browser; it plays here next time without asking."), "ok");
    } else {
      this.say(
        t("This browser could not keep the file (not enough space, or private browsing). It still plays now; choose it again next time."),
        "warn",
      );
    }
  }

  async forget() {
    this.unload();
    this.showPicker();
    await localMedia.forget(this.id);
    this.say(t("Forgotten: this browser no longer keeps a copy for this transcript."), "ok");
    this.input.focus();
  }

  bindControls() {
    this.input.addEventListener("change", () => {
      const [file] = this.input.files;
      this.input.value = ""; // the same file can be chosen again
      if (!file) return;
      if (file.type && !/^(audio|video)\//.test(file.type)) {
        const refusal = t("“%(name)s” is not an audio or video file; choose the recording.", { name: file.name });
        this.say(refusal, "error");
        return;
      }
      this.load(file, { name: file.name, type: file.type, kept: false });
    });
    this.speed.addEventListener("change", () => {
      const rate = Number(this.speed.value);
      if (!RATES.includes(rate)) return;
      if (this.media) this.media.playbackRate = rate;
      try {
        window.localStorage.setItem(RATE_KEY, String(rate));
      } catch (_err) {
        // Storage off: the speed still applies to this page.
      }
    });
    this.rememberButton.addEventListener("click", () => this.remember());
    this.forgetButton.addEventListener("click", () => this.forget());
    this.helpToggle.addEventListener("click", () => this.toggleHelp());
  }

  savedRate() {
    try {
      const rate = Number(window.localStorage.getItem(RATE_KEY));
      return RATES.includes(rate) ? rate : 1;
    } catch (_err) {
      return 1;
    }
  }

  toggleHelp() {
    this.help.hidden = !this.help.hidden;
    this.helpToggle.setAttribute("aria-expanded", String(!this.help.hidden));
  }

  // -- seeking and following

  seek(time) {
    const media = this.media;
    if (!media) return;
    const end = Number.isFinite(media.duration) ? media.duration : Infinity;
    media.currentTime = Math.min(Math.max(0, time), end);
    this.manualScrollAt = 0; // the person asked to go there: follow again
    this.update();
  }

  toggle() {
    if (this.media.paused) this.media.play().catch(() => {});
    else this.media.pause();
  }

  loop() {
    cancelAnimationFrame(this.frame);
    const step = () => {
      this.update();
      if (this.media && !this.media.paused) this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
  }

  update() {
    if (!this.media) return;
    if (this.index.refresh()) this.restoreLinked();
    this.setCurrent(this.index.wordAt(this.media.currentTime));
  }

  setCurrent(el) {
    if (this.current && !this.current.isConnected) this.current = null;
    if (el === this.current) {
      if (el) el.classList.add("current");
      return;
    }
    if (this.current) this.current.classList.remove("current");
    this.current = el;
    const at = el ? seconds(el) : null;
    const moved = at !== this.currentAt; // not the same word drawn again after an edit
    this.currentAt = at;
    if (!el) return;
    el.classList.add("current");
    if (moved && this.mayScroll()) reveal(el, this.root);
  }

  // Follow playback down the page, except shortly after the person scrolled themselves, and
  // never while they type (the field they type in would scroll away).
  mayScroll() {
    return (
      Date.now() - this.manualScrollAt > FOLLOW_PAUSE_MS && !typingIn(document.activeElement)
    );
  }

  watchManualScroll() {
    const mark = () => {
      this.manualScrollAt = Date.now();
    };
    window.addEventListener("wheel", mark, { passive: true });
    window.addEventListener("touchmove", mark, { passive: true });
    window.addEventListener("keydown", (event) => {
      if (SCROLL_KEYS.has(event.key) && !typingIn(event.target)) mark();
    });
    // Dragging the page's scroll bar.
    window.addEventListener("mousedown", (event) => {
      if (event.clientX >= document.documentElement.clientWidth) mark();
    });
  }

  bindTranscript() {
    document.addEventListener("click", (event) => {
      if (!this.media || event.defaultPrevented || event.button !== 0) return;
      if (event.detail > 1 || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) {
        clearTimeout(this.playTimer);
        return; // double clicks edit or select words; modified clicks extend selections
      }
      const target = event.target instanceof Element ? event.target : null;
      const hit = target && target.closest(`${BODY} span.w[data-start], ${BODY} .segment .ts`);
      if (!hit || typingIn(target) || target.closest("a, button, label") || selectingText()) {
        return;
      }
      const at = hit.matches(".ts") ? hit.closest(".segment") : hit;
      const time = seconds(at);
      if (!Number.isFinite(time)) return;
      const wasPaused = this.media.paused;
      this.seek(time);
      clearTimeout(this.playTimer);
      if (!wasPaused) return;
      this.playTimer = setTimeout(() => {
        if (this.media && !typingIn(hit) && !selectingText()) this.media.play().catch(() => {});
      }, DOUBLE_CLICK_MS);
    });
    document.addEventListener("dblclick", () => clearTimeout(this.playTimer));
  }

  // -- #t=83.5

  followLink() {
    const time = fragmentTime(window.location.hash);
    if (time === null) return;
    this.linked = time;
    const seg = this.restoreLinked();
    if (seg) seg.scrollIntoView({ block: "center", behavior: motion() });
    if (this.media && this.media.readyState >= HTMLMediaElement.HAVE_METADATA) this.seek(time);
    else this.pendingSeek = time;
  }

  restoreLinked() {
    if (this.linked === null) return null;
    document
      .querySelectorAll(`${BODY} .segment.linked`)
      .forEach((s) => s.classList.remove("linked"));
    const seg = this.index.segmentAt(this.linked);
    if (seg) seg.classList.add("linked");
    return seg;
  }

  // -- keys

  bindKeys() {
    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.isComposing) return;
      const action = this.actionFor(event);
      if (!action) return;
      if (action === "help") {
        this.toggleHelp();
      } else if (!this.media) {
        return; // nothing to play: the key keeps its usual meaning (Space scrolls)
      } else if (action === "toggle") {
        this.toggle();
      } else {
        this.seek(this.media.currentTime + (action === "back" ? -SKIP_SECONDS : SKIP_SECONDS));
      }
      event.preventDefault();
    });
  }

  actionFor(event) {
    if (event.altKey) return event.shiftKey ? null : ALT_CODES[event.code] || null;
    const target = event.target;
    if (typingIn(target) || (this.media && target === this.media)) return null; // own keys
    if (event.key === "Escape" && !this.help.hidden) return "help";
    if (event.shiftKey && event.key !== "?") return null; // Shift+arrows select text
    const action = KEYS[event.key] || null;
    if (action === "toggle" && event.key === " " && activatesOnSpace(target)) return null;
    return action;
  }
}

function clock(total) {
  const s = Math.round(total);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function motion() {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
}

// Scroll the word into view when it is hidden, under the sticky player or below the fold.
function reveal(el, player) {
  const box = el.getBoundingClientRect();
  const top = player.getBoundingClientRect().bottom + 8;
  if (box.top >= top && box.bottom <= window.innerHeight - 24) return;
  el.scrollIntoView({ block: "center", behavior: motion() });
}

const root = document.querySelector("[data-player]");
if (root) new Player(root).start();
