// Exports of a Private Transcript, made in the browser: the server cannot read the text, so
// it cannot make them. The formats follow the server's exporters so a private transcript's
// files look like anyone else's:
// - TXT as app/transcripts/exports/text.py (timestamps, speakers, paragraphs options);
// - SRT and WebVTT as app/transcripts/exports/subtitles.py: at most 2 lines of 42 columns
//   and 7 seconds per cue, at least half a second, in time order without overlaps, split
//   between words timed by the words themselves;
// - JSON as app/transcripts/exports/json_format.py ("verbatim.transcript", version 1);
// - DOCX: the reading layout of TXT as a Word document (title, details, paragraphs);
// - file names as app/transcripts/exports/filenames.py.
// Everything here but download() is a pure function of the document and its metadata
// (meta: {id, title, createdAt, engine, model, revision}).

import { clean, joiner, speakerName } from "./document.js";

// ------------------------------------------------------------------ the export document

// Words stored compactly as [text, start, end, probability]; malformed ones are skipped.
function exportWords(words) {
  const out = [];
  for (const w of words || []) {
    if (!Array.isArray(w) || w.length < 3) continue;
    const text = clean(w[0]);
    const start = Number(w[1]);
    const end = Number(w[2]);
    if (!text || w[1] === null || w[2] === null || !Number.isFinite(start) || !Number.isFinite(end)) continue;
    const p = w.length > 3 && w[3] !== null && Number.isFinite(Number(w[3])) ? Number(w[3]) : null;
    out.push({ text, start, end: Math.max(start, end), probability: p });
  }
  return out;
}

// The document as the exporters read it: text cleaned once, names resolved (document.py).
export function exportDocument(doc, meta = {}) {
  return {
    id: String(meta.id || ""),
    title: clean(meta.title) || "Untitled transcript",
    language: doc.language || null,
    duration: Math.max(0, Number(doc.duration) || 0),
    createdAt: meta.createdAt || null,
    engine: meta.engine || "",
    model: meta.model || "",
    revision: Number(meta.revision) || 1,
    speakers: doc.speakers.map((s) => ({ label: s.label, name: clean(s.name) || s.label })),
    segments: doc.segments.map((s) => {
      const start = Math.max(0, Number(s.start) || 0);
      return {
        start,
        end: Math.max(start, Number(s.end) || start),
        text: clean(s.text),
        speaker: s.speaker || null,
        words: exportWords(s.words),
      };
    }),
    joiner: joiner(doc.language),
    name(label) {
      return speakerName(this, label);
    },
  };
}

// ------------------------------------------------------------------ file names

const UNSAFE = /[\u0000-\u001f\u007f<>:"/\\|?*]+/g;
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const MAX_STEM_BYTES = 120;

// A file name (without extension) from a title, as the server makes them.
export function safeStem(title) {
  let stem = String(title || "").normalize("NFC");
  stem = stem.replace(UNSAFE, " ").split(/\s+/u).filter(Boolean).join(" ");
  stem = stem.replace(/^[. ]+|[. ]+$/g, "");
  const bytes = new TextEncoder().encode(stem);
  if (bytes.length > MAX_STEM_BYTES) {
    // Cut at a byte bound; a character cut in half is dropped.
    stem = new TextDecoder().decode(bytes.subarray(0, MAX_STEM_BYTES)).replace(/\ufffd+$/u, "");
    stem = stem.replace(/[. ]+$/g, "");
  }
  if (RESERVED.test(stem)) stem = `_${stem}`;
  return stem || "transcript";
}

export function filename(title, ext) {
  return `${safeStem(title)}.${ext}`;
}

// ------------------------------------------------------------------ plain text

const PARAGRAPH_PAUSE = 4.0;

// H:MM:SS style stamp, always with hours: 00:04:05.
export function clock(seconds) {
  const total = Math.floor(Math.max(0, seconds));
  const two = (n) => String(n).padStart(2, "0");
  return `${two(Math.floor(total / 3600))}:${two(Math.floor((total % 3600) / 60))}:${two(total % 60)}`;
}

// Blocks of text: one per segment, or with `paragraphs` one speaker's consecutive
// segments until a long silence.
export function blocks(ed, options) {
  const out = [];
  const nameOf = (label) => (options.speakers ? ed.name(label) : null);
  if (!options.paragraphs) {
    for (const s of ed.segments) {
      if (s.text) out.push({ start: s.start, end: s.end, speaker: nameOf(s.speaker), text: s.text });
    }
    return out;
  }
  let label = null;
  let parts = [];
  let start = 0;
  let end = 0;
  const flush = () => out.push({ start, end, speaker: nameOf(label), text: parts.join(ed.joiner) });
  for (const s of ed.segments) {
    if (!s.text) continue;
    if (parts.length && (s.speaker !== label || s.start - end > PARAGRAPH_PAUSE)) {
      flush();
      parts = [];
    }
    if (!parts.length) {
      label = s.speaker;
      start = s.start;
      end = s.end;
    }
    parts.push(s.text);
    end = Math.max(end, s.end);
  }
  if (parts.length) flush();
  return out;
}

// "[00:01:02] Alice", "Alice" or "": what goes above a paragraph.
export function heading(block, options) {
  const parts = [];
  if (options.timestamps) parts.push(`[${clock(block.start)}]`);
  if (block.speaker) parts.push(block.speaker);
  return parts.join(" ");
}

export const DEFAULT_OPTIONS = Object.freeze({ timestamps: true, speakers: true, paragraphs: false });

export function toTxt(doc, meta, options = DEFAULT_OPTIONS) {
  const ed = exportDocument(doc, meta);
  const lines = [];
  for (const block of blocks(ed, options)) {
    if (options.paragraphs) {
      const head = heading(block, options);
      if (lines.length) lines.push("");
      if (head) lines.push(head);
      lines.push(block.text);
    } else {
      let prefix = options.timestamps ? `[${clock(block.start)}] ` : "";
      if (block.speaker) prefix += `${block.speaker}: `;
      lines.push(prefix + block.text);
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

// ------------------------------------------------------------------ subtitles

export const MAX_CHARS = 42;
export const MAX_CUE_MS = 7000;
export const MIN_CUE_MS = 500;
const PAUSE_S = 1.5; // a silence this long between words ends a cue
const FILL = 30; // a sentence's end closes a cue that holds at least this many characters
const NAME_MAX = 20; // a longer speaker name is shortened in an SRT prefix
const SENTENCE_END = new Set([...".?!…。？！"]);
const BREAK_AFTER = new Set([..."，,;:.?!…、；：。？！"]);
const CLOSERS = "\"'”’)]}»」』）";
const NO_SPACE_PIECE = /(\s*)([0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff'’-]+|\S)/gu;

// Wide (East Asian) characters take two columns on screen. JavaScript has no table of
// East Asian widths, so these are the blocks that hold the W and F characters that occur in
// transcripts: Hangul, CJK, kana, full-width forms and emoji.
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{2fffd}\u{30000}-\u{3fffd}]/u;
const COMBINING = /\p{Mn}/u;

const chars = (text) => Array.from(text);
const isWide = (ch) => WIDE.test(ch);

// How wide text shows: two columns for each wide character.
export function columns(text) {
  let n = 0;
  for (const ch of text) n += isWide(ch) ? 2 : 1;
  return n;
}

function token(text, start, end, sep) {
  return { text, start, end, sep, width: columns(text) };
}

// (separator, piece) pairs of a segment's text.
function pieces(text, sep) {
  if (sep) return text.split(/\s+/u).filter(Boolean).map((w) => [sep, w]);
  const out = [];
  let opener = "";
  for (const match of text.matchAll(NO_SPACE_PIECE)) {
    const [, space, piece] = match;
    if (/^[\p{Ps}\p{Pi}]/u.test(piece)) {
      opener += piece; // an opening bracket or quote stays with what follows
      continue;
    }
    if (out.length && !space && !opener && /^\p{P}/u.test(piece)) {
      out[out.length - 1][1] += piece; // ... and closing ones behind
      continue;
    }
    out.push([space ? " " : "", opener + piece]);
    opener = "";
  }
  if (opener) out.push(["", opener]);
  return out;
}

// Tokens timed by the segment's words, if the words still spell its text.
function wordTokens(segment, sep) {
  const words = segment.words;
  if (!words.length) return null;
  const same = sep
    ? words.map((w) => w.text).join(sep) === segment.text
    : words.map((w) => w.text).join("") === segment.text.split(/\s+/u).join("");
  if (!same) return null;
  return words.map((w) => token(w.text, w.start, w.end, sep));
}

function interpolated(segment, sep) {
  const parts = pieces(segment.text, sep);
  const total = parts.reduce((n, [, p]) => n + chars(p).length + 1, 0);
  const span = segment.end - segment.start;
  let done = 0;
  return parts.map(([space, piece]) => {
    const start = segment.start + (span * done) / total;
    done += chars(piece).length + 1;
    return token(piece, start, segment.start + (span * done) / total, space);
  });
}

// Text in nearly equal parts of at most MAX_CHARS columns; a combining mark stays with its
// base unless that would overflow the line.
function chunks(text, width) {
  const limit = Math.ceil(width / Math.ceil(width / MAX_CHARS));
  const parts = [];
  let part = [];
  let cols = 0;
  for (const ch of text) {
    const w = isWide(ch) ? 2 : 1;
    const over = cols + w > limit && !COMBINING.test(ch);
    if (part.length && (over || cols + w > MAX_CHARS)) {
      parts.push(part.join(""));
      part = [];
      cols = 0;
    }
    part.push(ch);
    cols += w;
  }
  parts.push(part.join(""));
  return parts;
}

// A token wider than a line (a URL, unspaced text) split into line-sized parts.
function fitWidth(tokens) {
  const out = [];
  for (const tok of tokens) {
    if (tok.width <= MAX_CHARS) {
      out.push(tok);
      continue;
    }
    const span = tok.end - tok.start;
    const size = chars(tok.text).length;
    let done = 0;
    chunks(tok.text, tok.width).forEach((part, i) => {
      const start = tok.start + (span * done) / size;
      done += chars(part).length;
      out.push(token(part, start, tok.start + (span * done) / size, i ? "" : tok.sep));
    });
  }
  return out;
}

function segmentTokens(segment, sep) {
  return fitWidth(wordTokens(segment, sep) || interpolated(segment, sep));
}

// The tokens of the cue being built, with running widths (widths[i]: columns of the first
// i tokens, separators included).
class Run {
  constructor(prefix) {
    this.prefix = prefix;
    this.tokens = [];
    this.widths = [0];
    this.start = 0;
    this.end = 0;
  }

  width(a, b) {
    return this.widths[b] - this.widths[a] - this.tokens[a].sep.length;
  }

  push(tok) {
    if (!this.tokens.length) {
      this.start = tok.start;
      this.end = tok.end;
    } else {
      this.start = Math.min(this.start, tok.start);
      this.end = Math.max(this.end, tok.end);
    }
    this.tokens.push(tok);
    this.widths.push(this.widths[this.widths.length - 1] + tok.sep.length + tok.width);
  }

  pop(start, end) {
    this.tokens.pop();
    this.widths.pop();
    this.start = start;
    this.end = end;
  }

  // Where the cue may break into two lines: k tokens on the first line.
  breaks() {
    const n = this.tokens.length;
    const plen = columns(this.prefix);
    const found = [];
    for (let k = this.prefix ? 0 : 1; k < n; k++) {
      const first = k === 0 ? plen - 1 : plen + this.width(0, k);
      if (first > MAX_CHARS) break;
      if (this.width(k, n) <= MAX_CHARS) found.push(k);
    }
    return found;
  }

  fits() {
    return columns(this.prefix) + this.width(0, this.tokens.length) <= MAX_CHARS || this.breaks().length > 0;
  }

  text(a, b) {
    const toks = this.tokens.slice(a, b);
    return toks.length ? toks[0].text + toks.slice(1).map((t) => t.sep + t.text).join("") : "";
  }

  lines() {
    const n = this.tokens.length;
    const plen = columns(this.prefix);
    if (plen + this.width(0, n) <= MAX_CHARS) return [this.prefix + this.text(0, n)];
    const score = (k) => {
      const first = plen + (k ? this.width(0, k) : 0);
      const last = k > 0 ? chars(this.tokens[k - 1].text).at(-1) : "";
      return Math.abs(first - this.width(k, n)) - (k > 0 && BREAK_AFTER.has(last) ? 8 : 0);
    };
    const options = this.breaks();
    if (!options.length) return [this.prefix + this.text(0, n)]; // cannot happen: tokens fit a line
    const k = options.reduce((best, k2) => (score(k2) < score(best) ? k2 : best));
    const first = k ? this.prefix + this.text(0, k) : this.prefix.trimEnd();
    return [first, this.text(k, n)];
  }
}

// Python's round(): halves to even, so cue times match the server's to the millisecond.
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const ms = (seconds) => Math.max(0, roundHalfEven(seconds * 1000));
const short = (name) => (chars(name).length <= NAME_MAX ? name : `${chars(name).slice(0, NAME_MAX - 1).join("").trimEnd()}…`);

function endsSentence(text) {
  let stripped = text;
  while (stripped && CLOSERS.includes(chars(stripped).at(-1))) stripped = chars(stripped).slice(0, -1).join("");
  return Boolean(stripped) && SENTENCE_END.has(chars(stripped).at(-1));
}

// Cues of the whole document: {start, end (ms), lines, voice}. `voices`: names go in
// cue.voice (WebVTT) instead of a "Name: " prefix when the speaker changes (SRT).
export function buildCues(ed, options, { voices }) {
  const cues = [];
  let lastName = null;
  const emit = (run, name) => {
    if (!run.tokens.length) return;
    cues.push({ start: ms(run.start), end: ms(run.end), lines: run.lines(), voice: voices ? name : null });
    lastName = name;
  };
  const newRun = (name) => new Run(name && !voices && name !== lastName ? `${short(name)}: ` : "");
  const ordered = ed.segments.map((s, i) => [s, i]).sort((a, b) => a[0].start - b[0].start || a[1] - b[1]);
  for (const [segment] of ordered) {
    if (!segment.text) continue;
    const name = options.speakers ? ed.name(segment.speaker) : null;
    let run = newRun(name);
    for (const tok of segmentTokens(segment, ed.joiner)) {
      if (!run.tokens.length) {
        run.push(tok);
        continue;
      }
      const { start, end } = run;
      const pause = tok.start - end > PAUSE_S;
      run.push(tok);
      if (pause || (run.end - run.start) * 1000 > MAX_CUE_MS || !run.fits()) {
        run.pop(start, end);
        emit(run, name);
        run = newRun(name);
        run.push(tok);
      } else if (endsSentence(tok.text) && run.width(0, run.tokens.length) >= FILL) {
        emit(run, name);
        run = newRun(name);
      }
    }
    emit(run, name);
  }
  return retime(cues);
}

// Time order, no overlaps, durations within [MIN_CUE_MS, MAX_CUE_MS]: an overlap ends the
// earlier cue where the later starts, unless that leaves it too short to read; then the
// later one starts when the earlier ends.
function retime(cues) {
  cues.sort((a, b) => a.start - b.start);
  let previous = null;
  for (const cue of cues) {
    if (previous && cue.start < previous.end) {
      if (cue.start - previous.start >= MIN_CUE_MS) previous.end = cue.start;
      else cue.start = previous.end;
    }
    cue.end = Math.min(Math.max(cue.end, cue.start + MIN_CUE_MS), cue.start + MAX_CUE_MS);
    previous = cue;
  }
  return cues;
}

function cueStamp(total, dot) {
  const two = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(total / 3600000);
  const minutes = Math.floor((total % 3600000) / 60000);
  const seconds = Math.floor((total % 60000) / 1000);
  return `${two(hours)}:${two(minutes)}:${two(seconds)}${dot}${String(total % 1000).padStart(3, "0")}`;
}

function renderCues(cues, head, cueText, dot) {
  const parts = head ? [head] : [];
  cues.forEach((cue, i) => {
    const ident = head ? "" : `${i + 1}\n`;
    parts.push(`${ident}${cueStamp(cue.start, dot)} --> ${cueStamp(cue.end, dot)}\n${cueText(cue)}\n`);
  });
  return parts.join("\n");
}

export function toSrt(doc, meta, options = DEFAULT_OPTIONS) {
  const cues = buildCues(exportDocument(doc, meta), options, { voices: false });
  // "-->" inside a line would read as a timing line to some players.
  return renderCues(cues, "", (cue) => cue.lines.map((l) => l.replaceAll("-->", "->")).join("\n"), ",");
}

const vttEscape = (text) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

export function toVtt(doc, meta, options = DEFAULT_OPTIONS) {
  const cues = buildCues(exportDocument(doc, meta), options, { voices: true });
  return renderCues(
    cues,
    "WEBVTT\n",
    (cue) => {
      const text = cue.lines.map(vttEscape).join("\n");
      return cue.voice ? `<v ${vttEscape(cue.voice)}>${text}` : text;
    },
    ".",
  );
}

// ------------------------------------------------------------------ JSON

const roundTo = (x, places) => Number(x.toFixed(places));

// The server's JSON export structure ("verbatim.transcript", version 1), without
// summaries: a Private Transcript has none.
export function asData(doc, meta) {
  const ed = exportDocument(doc, meta);
  return {
    format: "verbatim.transcript",
    version: 1,
    transcript: {
      id: ed.id,
      title: ed.title,
      language: ed.language,
      duration_seconds: roundTo(ed.duration, 3),
      created_at: ed.createdAt,
      engine: ed.engine,
      model: ed.model,
      revision: ed.revision,
    },
    speakers: ed.speakers.map((s) => ({ label: s.label, name: s.name })),
    segments: ed.segments.map((s) => ({
      start: roundTo(s.start, 3),
      end: roundTo(s.end, 3),
      speaker: s.speaker,
      speaker_name: ed.name(s.speaker),
      text: s.text,
      words: s.words.map((w) => ({
        text: w.text,
        start: roundTo(w.start, 3),
        end: roundTo(w.end, 3),
        probability: w.probability === null ? null : roundTo(w.probability, 4),
      })),
    })),
  };
}

export function toJson(doc, meta) {
  return JSON.stringify(asData(doc, meta));
}

// ------------------------------------------------------------------ DOCX

// A Word document: the title, a line of details, then the blocks as TXT's paragraphs
// (heading, text). WordprocessingML in a zip of stored (uncompressed) entries: Word,
// LibreOffice and Google Docs open it, and it needs no library.
const xml = (text) =>
  String(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

function wRun(text, { bold = false, size = 0, color = "" } = {}) {
  const props = [bold ? "<w:b/>" : "", color ? `<w:color w:val="${color}"/>` : "", size ? `<w:sz w:val="${size}"/>` : ""].join("");
  return `<w:r>${props ? `<w:rPr>${props}</w:rPr>` : ""}<w:t xml:space="preserve">${xml(text)}</w:t></w:r>`;
}

const para = (...runs) => `<w:p>${runs.join("")}</w:p>`;

export function docxXml(doc, meta, options = DEFAULT_OPTIONS, details = "") {
  const ed = exportDocument(doc, meta);
  const body = [para(wRun(ed.title, { bold: true, size: 36 }))];
  if (details) body.push(para(wRun(details, { color: "666666", size: 18 })));
  for (const block of blocks(ed, options)) {
    const head = heading(block, options);
    if (head) body.push(para(wRun(head, { bold: true, color: "555555", size: 20 })));
    body.push(para(wRun(block.text)));
  }
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' +
    body.join("") +
    "</w:body></w:document>"
  );
}

const CONTENT_TYPES =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
  "</Types>";
const RELS =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>' +
  "</Relationships>";

let crcTable = null;

function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// A zip archive of stored entries: [[name, bytes], ...] -> Uint8Array.
export function zipStored(entries) {
  const utf8 = new TextEncoder();
  const parts = [];
  const central = [];
  let offset = 0;
  const header = (size) => {
    const buf = new Uint8Array(size);
    return [buf, new DataView(buf.buffer)];
  };
  for (const [name, data] of entries) {
    const nameBytes = utf8.encode(name);
    const crc = crc32(data);
    const [local, l] = header(30);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true); // version needed
    l.setUint16(6, 0x0800, true); // names in UTF-8
    l.setUint16(8, 0, true); // stored
    l.setUint16(12, 0x21, true); // 1980-01-01: no clock in a file made from a transcript
    l.setUint32(14, crc, true);
    l.setUint32(18, data.length, true);
    l.setUint32(22, data.length, true);
    l.setUint16(26, nameBytes.length, true);
    const [entry, c] = header(46);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, 0x0800, true);
    c.setUint16(14, 0x21, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, data.length, true);
    c.setUint32(24, data.length, true);
    c.setUint16(28, nameBytes.length, true);
    c.setUint32(42, offset, true);
    parts.push(local, nameBytes, data);
    central.push(entry, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const size = central.reduce((n, p) => n + p.length, 0);
  const [end, e] = header(22);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, entries.length, true);
  e.setUint16(10, entries.length, true);
  e.setUint32(12, size, true);
  e.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toDocx(doc, meta, options = DEFAULT_OPTIONS, details = "") {
  const utf8 = new TextEncoder();
  return zipStored([
    ["[Content_Types].xml", utf8.encode(CONTENT_TYPES)],
    ["_rels/.rels", utf8.encode(RELS)],
    ["word/document.xml", utf8.encode(docxXml(doc, meta, options, details))],
  ]);
}

// ------------------------------------------------------------------ formats and download

export const FORMATS = {
  txt: { label: "TXT", type: "text/plain;charset=utf-8", render: toTxt },
  srt: { label: "SRT", type: "application/x-subrip;charset=utf-8", render: toSrt },
  vtt: { label: "VTT", type: "text/vtt;charset=utf-8", render: toVtt },
  json: { label: "JSON", type: "application/json", render: toJson },
  docx: { label: "DOCX", type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", render: toDocx },
};

// {name, type, blob} of one format.
export function exportFile(format, doc, meta, options = DEFAULT_OPTIONS, details = "") {
  const f = FORMATS[format];
  if (!f) throw new Error(`Unknown export format: ${format}`);
  const body = f.render(doc, meta, options, details);
  return { name: filename(meta.title, format), type: f.type, blob: new Blob([body], { type: f.type }) };
}

// Save a file made here: a Blob behind an object URL, clicked, then let go. Nothing is sent.
export function download(file) {
  const url = URL.createObjectURL(file.blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = file.name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
