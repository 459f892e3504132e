// A Private Transcript's document (version 1), as the worker seals it and the browser
// writes it back: pure functions that read it for display and return edited copies.
//
//   {"v": 1, "language": "en" | null, "duration": seconds,
//    "speakers": [{"label": "SPEAKER_00", "name": "Speaker 1"}],
//    "segments": [{"start": s, "end": s, "text": "...", "speaker": "SPEAKER_00" | null,
//                  "words": [[text, start, end, probability | null], ...]}]}
//
// The server cannot read these documents, so the rules its editor applies to ordinary
// transcripts (app/transcripts/editing.py, words.py) are applied here: text is cleaned,
// a segment cannot be empty, a speaker's name is 1 to 120 characters, and edited text
// keeps the timings of the words that are still there. Nothing here mutates its input.

import { locale, t } from "../i18n.js";

export const VERSION = 1;
export const MAX_TEXT = 10000;
export const MAX_NAME = 120;
export const LOW_CONFIDENCE = 0.5;

// Refused input, with a sentence a person can act on.
export class DocumentError extends Error {
  constructor(message) {
    super(message);
    this.name = "DocumentError";
  }
}

// ------------------------------------------------------------------ words and text

// Languages written without spaces between words (app/transcripts/words.py).
const NO_SPACE_LANGUAGES = new Set(["zh", "ja", "th", "lo", "my", "km", "yue", "bo"]);
const NO_SPACE_CHAR =
  "\\u0e00-\\u0eff\\u0f00-\\u0fff\\u1000-\\u109f\\u1780-\\u17ff\\u3000-\\u303f\\u3040-\\u30ff" +
  "\\u31f0-\\u31ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7af\\uf900-\\ufaff\\uff00-\\uffef" +
  "\\u{20000}-\\u{3134f}";
const NO_SPACE_TOKEN = new RegExp(`[${NO_SPACE_CHAR}]|[^\\s${NO_SPACE_CHAR}]+`, "gu");
const SPACED_TOKEN = /\S+/gu;
// Control characters and lone surrogates: no document format carries them.
const UNFIT = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;
const MARK = /[\p{P}\p{S}]/u;

export function spaced(language) {
  const base = String(language || "").split("-", 1)[0].toLowerCase();
  return !NO_SPACE_LANGUAGES.has(base);
}

// What goes between words: nothing in Chinese, Japanese, Thai..., else a space.
export function joiner(language) {
  return spaced(language) ? " " : "";
}

// Text as stored: no control characters, whitespace runs as one space, trimmed.
export function clean(text) {
  return String(text ?? "")
    .split(/\s+/u)
    .filter(Boolean)
    .join(" ")
    .replace(UNFIT, "");
}

export function tokenSpans(text, language) {
  const pattern = new RegExp(spaced(language) ? SPACED_TOKEN : NO_SPACE_TOKEN);
  return Array.from(text.matchAll(pattern), (m) => [m.index, m.index + m[0].length]);
}

export function tokenize(text, language) {
  return tokenSpans(text, language).map(([a, b]) => text.slice(a, b));
}

// What makes two words "the same word": case and surrounding punctuation aside.
export function normal(token) {
  const chars = Array.from(token);
  let a = 0;
  let b = chars.length;
  while (a < b && MARK.test(chars[a])) a++;
  while (b > a && MARK.test(chars[b - 1])) b--;
  const core = chars.slice(a, b).join("");
  return (core || token).toLowerCase();
}

function time(word, i) {
  const value = word.length > i ? word[i] : null;
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

const round3 = (x) => Math.round(x * 1000) / 1000;

// Untimed words get times between their neighbours; then every time is ordered and inside
// [start, end], a word never starting before the previous one ends (words.py settle()).
export function settle(words, start, end) {
  end = Math.max(start, end);
  const out = words.map((w) => [...w]);
  const n = out.length;
  let i = 0;
  while (i < n) {
    if (time(out[i], 1) !== null && time(out[i], 2) !== null) {
      i++;
      continue;
    }
    let k = i;
    while (k < n && (time(out[k], 1) === null || time(out[k], 2) === null)) k++;
    let left = i > 0 ? time(out[i - 1], 2) : start;
    let right = k < n ? time(out[k], 1) : end;
    left = left === null ? start : left;
    right = right === null ? end : Math.max(left, right);
    const lengths = out.slice(i, k).map((w) => Math.max(1, String(w[0]).length));
    const total = lengths.reduce((s, x) => s + x, 0);
    let at = left;
    lengths.forEach((length, j) => {
      const step = ((right - left) * length) / total;
      out[i + j][1] = round3(at);
      out[i + j][2] = round3(at + step);
      at += step;
    });
    i = k;
  }
  let cursor = start;
  for (const w of out) {
    const s = Math.min(Math.max(Number(w[1]), cursor), end);
    const e = Math.min(Math.max(Number(w[2]), s), end);
    w[1] = s;
    w[2] = e;
    cursor = e;
  }
  return out;
}

// Longest common subsequence of two lists of strings: pairs [i, j] in order. Segments are
// short (tens of words), so the quadratic table is small; past a bound nothing is matched
// and the words are timed by interpolation alone.
const MAX_CELLS = 400000;

function commonPairs(a, b) {
  if (!a.length || !b.length || a.length * b.length > MAX_CELLS) return [];
  const rows = a.length + 1;
  const cols = b.length + 1;
  const table = new Uint32Array(rows * cols);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i * cols + j] =
        a[i] === b[j]
          ? table[(i + 1) * cols + j + 1] + 1
          : Math.max(table[(i + 1) * cols + j], table[i * cols + j + 1]);
    }
  }
  const pairs = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      pairs.push([i, j]);
      i++;
      j++;
    } else if (table[(i + 1) * cols + j] >= table[i * cols + j + 1]) {
      i++;
    } else {
      j++;
    }
  }
  return pairs;
}

// The old words' tokens, each with its word and its share of the word's time.
function atomsOf(old, language) {
  const atoms = [];
  old.forEach((w, index) => {
    const parts = tokenize(String(w[0]), language);
    const list = parts.length ? parts : [String(w[0])];
    const start = time(w, 1);
    const end = time(w, 2);
    const step = start !== null && end !== null ? (end - start) / list.length : null;
    list.forEach((text, k) => {
      atoms.push({
        text,
        word: index,
        start: step === null ? null : start + k * step,
        end: step === null ? null : start + (k + 1) * step,
      });
    });
  });
  return atoms;
}

// Words for `text`, a new version of the text `old` was the words of: words still there
// keep their timing and probability; a changed word takes the time of the one it replaced;
// new words are timed between their neighbours; a typed word has no probability (nobody
// needs to review it). Times end up ordered within [start, end].
export function rewords(old, text, language, start, end) {
  const spans = tokenSpans(text, language);
  const tokens = spans.map(([a, b]) => text.slice(a, b));
  const atoms = atomsOf(old, language);
  const source = new Array(tokens.length).fill(null); // the old atom each token matched
  const windowOf = new Array(tokens.length).fill(null); // [start, end] shared from replaced atoms
  const pairs = commonPairs(
    atoms.map((a) => normal(a.text)),
    tokens.map(normal),
  );
  let i0 = 0;
  let j0 = 0;
  for (const [i, j] of [...pairs, [atoms.length, tokens.length]]) {
    // Between two matches: old atoms i0..i replaced by new tokens j0..j.
    if (i > i0 && j > j0) {
      const starts = atoms.slice(i0, i).map((a) => a.start).filter((x) => x !== null);
      const ends = atoms.slice(i0, i).map((a) => a.end).filter((x) => x !== null);
      if (starts.length && ends.length) share(windowOf, spans, j0, j, Math.min(...starts), Math.max(...ends));
    }
    if (i < atoms.length) source[j] = i;
    i0 = i + 1;
    j0 = j + 1;
  }
  const out = [];
  let j = 0;
  while (j < tokens.length) {
    const kept = keptWord(old, atoms, source, tokens, j);
    if (kept) {
      const [word, n] = kept;
      out.push([text.slice(spans[j][0], spans[j + n - 1][1]), time(word, 1), time(word, 2), word[3] ?? null]);
      j += n;
      continue;
    }
    const i = source[j];
    if (i !== null) out.push([tokens[j], atoms[i].start, atoms[i].end, null]);
    else out.push([tokens[j], ...(windowOf[j] || [null, null]), null]);
    j++;
  }
  return settle(out, start, end);
}

function keptWord(old, atoms, source, tokens, j) {
  let i = source[j];
  if (i === null || (i > 0 && atoms[i - 1].word === atoms[i].word)) return null;
  const word = atoms[i].word;
  let n = 0;
  while (i + n < atoms.length && atoms[i + n].word === word) {
    if (j + n >= tokens.length || source[j + n] !== i + n || atoms[i + n].text !== tokens[j + n]) {
      return null;
    }
    n++;
  }
  return [old[word], n];
}

function share(windowOf, spans, j0, j1, t0, t1) {
  const lengths = spans.slice(j0, j1).map(([a, b]) => Math.max(1, b - a));
  const total = lengths.reduce((s, x) => s + x, 0);
  let at = t0;
  lengths.forEach((length, k) => {
    const step = ((t1 - t0) * length) / total;
    windowOf[j0 + k] = [round3(at), round3(at + step)];
    at += step;
  });
}

// Whether the words still spell the text (after an edit elsewhere they may not).
export function wordsSpell(words, text, language) {
  if (!words.length) return false;
  const sep = joiner(language);
  if (sep) return words.map((w) => w[0]).join(sep) === text;
  return words.map((w) => w[0]).join("") === text.split(/\s+/u).join("");
}

// ------------------------------------------------------------------ reading

const finite = (x, fallback) => (typeof x === "number" && Number.isFinite(x) ? x : fallback);

function readWord(raw) {
  if (!Array.isArray(raw) || raw.length < 3 || typeof raw[0] !== "string") return null;
  const start = finite(raw[1], null);
  const end = finite(raw[2], null);
  const p = raw.length > 3 ? finite(raw[3], null) : null;
  return [raw[0], start, end === null || start === null ? end : Math.max(start, end), p];
}

// A checked, tidy copy of a decrypted document; DocumentError when it is not one.
export function readDocument(raw) {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new DocumentError(t("The decrypted transcript is not a transcript document."));
  }
  if (raw.v !== VERSION) {
    throw new DocumentError(
      t("This transcript was saved in a newer format (version %(version)s); reload the page to update.", {
        version: raw.v,
      }),
    );
  }
  if (!Array.isArray(raw.segments) || (raw.speakers != null && !Array.isArray(raw.speakers))) {
    throw new DocumentError(t("The decrypted transcript has no list of segments."));
  }
  const speakers = [];
  for (const s of raw.speakers || []) {
    if (!s || typeof s.label !== "string" || !s.label) continue;
    if (speakers.some((x) => x.label === s.label)) continue;
    speakers.push({ label: s.label, name: clean(s.name) || s.label });
  }
  const segments = raw.segments.map((s) => {
    if (!s || typeof s !== "object") throw new DocumentError(t("The decrypted transcript has a malformed segment."));
    const start = Math.max(0, finite(s.start, 0));
    return {
      start,
      end: Math.max(start, finite(s.end, start)),
      text: typeof s.text === "string" ? s.text : "",
      speaker: typeof s.speaker === "string" && s.speaker ? s.speaker : null,
      words: Array.isArray(s.words) ? s.words.map(readWord).filter(Boolean) : [],
    };
  });
  return {
    v: VERSION,
    language: typeof raw.language === "string" && raw.language ? raw.language : null,
    duration: Math.max(0, finite(raw.duration, 0)),
    speakers,
    segments,
  };
}

// The name people gave a speaker, else its label; null without one.
export function speakerName(doc, label) {
  if (!label) return null;
  const found = doc.speakers.find((s) => s.label === label);
  return (found && found.name.trim()) || label;
}

// A position in the recording as mm:ss (h:mm:ss past the first hour), like the server's pages.
export function stamp(value) {
  const total = Math.max(0, Math.floor(value || 0));
  const two = (n) => String(n).padStart(2, "0");
  if (total >= 3600) return `${Math.floor(total / 3600)}:${two(Math.floor((total % 3600) / 60))}:${two(total % 60)}`;
  return `${two(Math.floor(total / 60))}:${two(total % 60)}`;
}

// What the page draws of one segment: its times, speaker and name, and its words (null
// when they no longer spell the text: the text is shown whole).
export function segmentView(doc, index, low = LOW_CONFIDENCE) {
  const s = segmentAt(doc, index);
  return {
    index,
    start: s.start,
    end: s.end,
    stamp: stamp(s.start),
    speaker: s.speaker,
    name: speakerName(doc, s.speaker),
    text: s.text,
    words: wordsSpell(s.words, s.text, doc.language)
      ? s.words.map(([text, start, end, p]) => ({ text, start, end, p, low: p !== null && p < low }))
      : null,
  };
}

// What the page draws of the whole document.
export function view(doc, low = LOW_CONFIDENCE) {
  return {
    joiner: joiner(doc.language),
    speakers: doc.speakers.map((s) => ({ ...s })),
    segments: doc.segments.map((_, index) => segmentView(doc, index, low)),
  };
}

// ------------------------------------------------------------------ edits

function segmentAt(doc, index) {
  const seg = Number.isInteger(index) ? doc.segments[index] : undefined;
  if (!seg) throw new DocumentError(t("There is no segment %(index)s in this transcript.", { index }));
  return seg;
}

function withSegment(doc, index, change) {
  const segments = doc.segments.slice();
  segments[index] = { ...segments[index], ...change };
  return { ...doc, segments };
}

// The document with segment `index` saying `text` (its words re-timed).
export function setSegmentText(doc, index, text) {
  const seg = segmentAt(doc, index);
  const cleaned = clean(text);
  if (!cleaned) throw new DocumentError(t("A segment cannot be empty."));
  if (cleaned.length > MAX_TEXT) {
    throw new DocumentError(
      t("A segment holds at most %(max)s characters (%(given)s given).", {
        max: MAX_TEXT.toLocaleString(locale()),
        given: cleaned.length.toLocaleString(locale()),
      }),
    );
  }
  if (cleaned === seg.text) return doc;
  return withSegment(doc, index, {
    text: cleaned,
    words: rewords(seg.words, cleaned, doc.language, seg.start, seg.end),
  });
}

export function checkName(raw) {
  const name = clean(raw);
  if (!name || name.length > MAX_NAME) {
    throw new DocumentError(t("A speaker's name must be 1 to %(max)s characters.", { max: MAX_NAME }));
  }
  return name;
}

// The document with speaker `label` called `name` everywhere.
export function renameSpeaker(doc, label, name) {
  const checked = checkName(name);
  if (!doc.speakers.some((s) => s.label === label)) {
    throw new DocumentError(t("There is no speaker %(label)s in this transcript.", { label }));
  }
  return { ...doc, speakers: doc.speakers.map((s) => (s.label === label ? { ...s, name: checked } : s)) };
}

// The document with segment `index` said by `label` (null: nobody).
export function setSegmentSpeaker(doc, index, label) {
  const seg = segmentAt(doc, index);
  if (label !== null && !doc.speakers.some((s) => s.label === label)) {
    throw new DocumentError(t("There is no speaker %(label)s in this transcript.", { label }));
  }
  if (seg.speaker === label) return doc;
  return withSegment(doc, index, { speaker: label });
}

// The next free engine-style label: SPEAKER_00, SPEAKER_01, ...
export function freshLabel(doc) {
  const taken = new Set(doc.speakers.map((s) => s.label));
  const numbers = [...taken].map((l) => /^SPEAKER_(\d+)$/.exec(l)).filter(Boolean).map((m) => Number(m[1]));
  let n = numbers.length ? Math.max(...numbers) + 1 : 0;
  while (taken.has(`SPEAKER_${String(n).padStart(2, "0")}`)) n++;
  return `SPEAKER_${String(n).padStart(2, "0")}`;
}

// {doc, label}: the document with a new speaker ("Speaker N" when no name is given).
export function addSpeaker(doc, name = "") {
  const label = freshLabel(doc);
  const checked = clean(name) ? checkName(name) : `Speaker ${doc.speakers.length + 1}`;
  return { doc: { ...doc, speakers: [...doc.speakers, { label, name: checked }] }, label };
}
