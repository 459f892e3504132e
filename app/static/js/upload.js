// Resumable uploads to /w/<slug>/uploads/ (app/ingest/routes.py): open the upload, send
// the file in pieces with XHR (for progress events), and after a dropped connection ask
// the server where it stands (HEAD) and carry on from there. Two files at a time.
// window.VerbatimUpload.enqueue(blob, {filename, source, title, list}) is also used by
// recorder.js for browser recordings.
(() => {
  "use strict";

  // Words in the page's language: window.verbatimT comes from i18n.js, a module the layout
  // runs before this script; without it, the English with its placeholders filled.
  const t = (english, vars) =>
    window.verbatimT
      ? window.verbatimT(english, vars)
      : english.replace(/%\((\w+)\)s/g, (whole, name) => (vars && name in vars ? String(vars[name]) : whole));

  // Where local-media.js lives (next to this file); read now, while this script runs.
  const scriptUrl = document.currentScript ? document.currentScript.src : "";
  const root = document.querySelector("[data-upload]");
  if (!root) return;

  const PARALLEL = 2;
  const MAX_TRIES = 6; // network failures in a row before giving up on a file
  const createUrl = root.dataset.createUrl;
  const defaultList = document.getElementById("upload-list");
  const waiting = [];
  let running = 0;

  class NetworkError extends Error {}
  class Cancelled extends Error {}

  function csrfToken() {
    // base.html gives htmx the token in hx-headers; the same token serves these requests.
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (_err) {
      return "";
    }
  }

  function field(id) {
    const el = document.getElementById(id);
    return el && !el.disabled ? el.value.trim() : "";
  }

  // The same options the link form posts (templates/transcripts/new.html).
  function jobOptions() {
    const pair = field("opt-model");
    const cut = pair.indexOf(":");
    const box = document.getElementById("opt-diarize");
    const diarize = Boolean(box && !box.disabled && box.checked);
    return {
      engine: cut > 0 ? pair.slice(0, cut) : "",
      model: cut > 0 ? pair.slice(cut + 1) : pair,
      language: field("opt-language-code") || field("opt-language"),
      diarize,
      min_speakers: diarize ? field("opt-min-speakers") || null : null,
      max_speakers: diarize ? field("opt-max-speakers") || null : null,
      compare_model: field("opt-compare") || null,
      // Always said, ticked or not: left out, the server would apply the person's default.
      private: privateChosen(),
      ...voiceLabChosen(),
    };
  }

  // Voice Lab (templates/transcripts/new.html): given only while its box is ticked, with
  // the version of the consent wording the page showed.
  function voiceLabChosen() {
    const box = document.getElementById("opt-voice-lab");
    if (!box || box.disabled || !box.checked) return { voice_lab: false };
    return { voice_lab: true, voice_lab_consent: box.dataset.consentVersion || "" };
  }

  // Consent is per recording: once the files added together have it, the box unticks.
  function resetVoiceLab() {
    const box = document.getElementById("opt-voice-lab");
    if (box) box.checked = false;
  }

  // The "Private Transcript" box; disabled (no keyring yet) counts as not private.
  function privateChosen() {
    const box = document.getElementById("opt-private");
    return Boolean(box && !box.disabled && box.checked);
  }

  function sizeText(bytes) {
    const units = 5; // bytes, KB, MB, GB, TB
    let n = bytes;
    let i = 0;
    while (n >= 1000 && i < units - 1) {
      n /= 1000;
      i += 1;
    }
    if (i === 0) return t("%(size)s bytes", { size: n });
    // One decimal, written the page's way (1.5 in English, 1,5 in German and French).
    const size = n.toLocaleString(document.documentElement.lang || "en", {
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
      useGrouping: false,
    });
    if (i === 1) return t("%(size)s KB", { size });
    if (i === 2) return t("%(size)s MB", { size });
    if (i === 3) return t("%(size)s GB", { size });
    return t("%(size)s TB", { size });
  }

  function problem(status, body) {
    if (body && typeof body.message === "string") return body.message;
    const known = {
      400: t("The request was refused; reload the page and try again."),
      403: t("Your role in this workspace cannot start transcripts."),
      404: t("This upload no longer exists; start again."),
      413: t("That is too large."),
      429: t("Too many requests; wait a little and try again."),
    };
    return known[status] || t("The upload failed (HTTP %(status)s).", { status });
  }

  function sleep(ms) {
    return new Promise((resolve) => {
      setTimeout(resolve, ms);
    });
  }

  function backoff(tries) {
    return Math.min(30000, 1000 * 2 ** (tries - 1)) + Math.random() * 500;
  }

  class UploadJob {
    constructor(file, meta) {
      this.file = file;
      this.meta = meta;
      this.name = meta.filename || file.name || "recording";
      this.options = jobOptions(); // as chosen when the file was added
      this.offset = 0;
      this.url = null;
      this.xhr = null;
      this.cancelled = false;
      this.finished = false;
      this.render(meta.list || defaultList);
    }

    render(list) {
      const li = document.createElement("li");
      li.className = "upload-item";
      const head = document.createElement("div");
      head.className = "upload-head";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = this.name;
      const size = document.createElement("small");
      size.textContent = sizeText(this.file.size);
      this.cancelButton = document.createElement("button");
      this.cancelButton.type = "button";
      this.cancelButton.className = "small secondary";
      this.cancelButton.textContent = t("Cancel");
      this.cancelButton.addEventListener("click", () => this.cancel());
      head.append(name, " ", size, " ", this.cancelButton);
      const bar = document.createElement("div");
      bar.className = "upload-bar";
      this.bar = document.createElement("progress");
      this.bar.max = 100;
      this.bar.value = 0;
      this.bar.setAttribute("aria-label", t("Upload of %(name)s", { name: this.name }));
      this.pct = document.createElement("span");
      this.pct.className = "pct";
      this.pct.textContent = "0%";
      bar.append(this.bar, this.pct);
      this.state = document.createElement("p");
      this.state.className = "state";
      this.state.setAttribute("role", "status");
      this.state.textContent = t("Waiting for a free slot…");
      li.append(head, bar, this.state);
      list.append(li);
      this.el = li;
    }

    say(text, kind) {
      this.state.textContent = text;
      this.el.dataset.state = kind || "";
    }

    progress(sent) {
      const pct = this.file.size ? Math.floor((sent / this.file.size) * 100) : 100;
      this.bar.value = pct;
      this.pct.textContent = `${pct}%`;
      if (sent >= this.file.size) this.say(t("Checking the file…"), "checking");
    }

    async run() {
      if (this.cancelled) return;
      try {
        this.say(t("Starting…"), "running");
        await this.open();
        const result = await this.sendAll();
        this.done(result);
      } catch (err) {
        if (!this.cancelled) this.fail(err.message);
      }
    }

    async open() {
      const body = {
        filename: this.name,
        size: this.file.size,
        source: this.meta.source || "upload",
        title: this.meta.title || null,
        ...this.options,
      };
      for (let tries = 1; ; tries += 1) {
        let resp;
        try {
          resp = await fetch(createUrl, {
            method: "POST",
            credentials: "same-origin",
            headers: {
              "Content-Type": "application/json",
              Accept: "application/json",
              "X-CSRFToken": csrfToken(),
            },
            body: JSON.stringify(body),
          });
        } catch (_err) {
          if (tries >= 3) throw new Error(t("The server could not be reached; try again later."));
          await sleep(backoff(tries));
          continue;
        }
        const reply = await resp.json().catch(() => null);
        if (resp.status !== 201 || !reply) throw new Error(problem(resp.status, reply));
        this.url = reply.upload_url;
        this.chunk = reply.chunk_size;
        this.offset = reply.offset || 0;
        return;
      }
    }

    async sendAll() {
      let tries = 0;
      for (;;) {
        if (this.cancelled) throw new Cancelled();
        const end = Math.min(this.offset + this.chunk, this.file.size);
        let reply;
        try {
          reply = await this.sendPiece(this.offset, end);
        } catch (err) {
          if (this.cancelled || err instanceof Cancelled) throw new Cancelled();
          reply = null;
        }
        if (reply && reply.status === 200 && reply.body) {
          tries = 0;
          this.offset = reply.body.offset;
          this.progress(this.offset);
          if (reply.body.complete) return reply.body;
          continue;
        }
        if (reply && reply.status === 409 && reply.body && typeof reply.body.offset === "number") {
          const body = reply.body;
          if (body.upload_status === "done") return { transcripts: [] };
          if (body.upload_status !== "open") throw new Error(problem(409, body));
          if (body.offset !== this.offset) {
            this.offset = body.offset; // the server has more (or less): go on from there
            continue;
          }
          // Same offset: another request still writes (an earlier, dropped one); wait.
        } else if (reply && reply.status < 500 && reply.status !== 429 && reply.status !== 0) {
          throw new Error(problem(reply.status, reply.body));
        }
        // The connection dropped or the server stumbled: wait, ask where it stands, resume.
        tries += 1;
        if (tries > MAX_TRIES) {
          throw new Error(t("The connection kept failing; the upload stopped. Try again later."));
        }
        this.say(
          t("Connection lost; retrying (attempt %(attempt)s of %(attempts)s)…", {
            attempt: tries,
            attempts: MAX_TRIES,
          }),
          "retrying",
        );
        await sleep(backoff(tries));
        if (this.cancelled) throw new Cancelled();
        await this.learnOffset();
      }
    }

    sendPiece(start, end) {
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        this.xhr = xhr;
        xhr.open("PATCH", this.url);
        xhr.responseType = "json";
        xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
        xhr.setRequestHeader("Upload-Offset", String(start));
        xhr.setRequestHeader("X-CSRFToken", csrfToken());
        xhr.setRequestHeader("Accept", "application/json");
        xhr.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable) this.progress(start + event.loaded);
        });
        xhr.addEventListener("load", () => {
          this.xhr = null;
          resolve({ status: xhr.status, body: xhr.response });
        });
        xhr.addEventListener("error", () => {
          this.xhr = null;
          reject(new NetworkError("network"));
        });
        xhr.addEventListener("timeout", () => {
          this.xhr = null;
          reject(new NetworkError("timeout"));
        });
        xhr.addEventListener("abort", () => {
          this.xhr = null;
          reject(new Cancelled());
        });
        if (start === 0 || this.el.dataset.state !== "running") this.say(t("Uploading…"), "running");
        xhr.send(this.file.slice(start, end));
      });
    }

    async learnOffset() {
      try {
        const resp = await fetch(this.url, {
          method: "HEAD",
          credentials: "same-origin",
          cache: "no-store",
        });
        const offset = Number(resp.headers.get("Upload-Offset"));
        if (resp.status === 204 && Number.isFinite(offset)) {
          this.offset = offset;
          this.progress(offset);
        }
      } catch (_err) {
        // Still offline: the next attempt fails fast and counts as a try.
      }
    }

    cancel() {
      if (this.finished) return;
      this.cancelled = true;
      this.finished = true;
      if (this.xhr) this.xhr.abort();
      if (this.url) {
        fetch(this.url, {
          method: "DELETE",
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken() },
        }).catch(() => {
          // Unfinished uploads expire and are deleted by the sweeper anyway.
        });
      }
      this.cancelButton.remove();
      this.say(t("Cancelled; nothing was kept."), "cancelled");
    }

    done(result) {
      this.finished = true;
      this.cancelButton.remove();
      this.bar.value = 100;
      this.pct.textContent = "100%";
      const links = result.transcripts || [];
      this.say(
        `${links.length ? t("Uploaded. The transcript is queued:") : t("Uploaded. The transcript is in the list:")} `,
        "done",
      );
      const targets = links.length
        ? links.map((link, i) => [
            link.url,
            links.length > 1 ? t("transcript %(number)s", { number: i + 1 }) : t("open it"),
          ])
        : [[root.dataset.listingUrl || "../transcripts/", t("transcripts")]];
      if (result.compare_url) targets.push([result.compare_url, t("compare")]);
      targets.forEach(([href, text], i) => {
        const a = document.createElement("a");
        a.href = href;
        a.textContent = text;
        if (i) this.state.append(" · ");
        this.state.append(a);
      });
      this.keepForPlayback(links.map((link) => link.id));
    }

    // The server deletes the audio once it is transcribed: keep this person's own copy in
    // the browser (IndexedDB, local-media.js) so the transcript page can play it without
    // sending it again. Recordings come through here too. Failure only means "not kept".
    keepForPlayback(ids) {
      if (!ids.length || !scriptUrl) return;
      import(new URL("local-media.js", scriptUrl).href)
        .then((media) => media.keep(this.file, { name: this.name, ids }))
        .then((kept) => {
          if (kept) this.state.append(` · ${t("Kept on this device for playback.")}`);
        })
        .catch(() => {});
    }

    fail(message) {
      this.finished = true;
      this.cancelButton.remove();
      this.say(message, "failed");
    }
  }

  function pump() {
    while (running < PARALLEL && waiting.length) {
      const job = waiting.shift();
      if (job.cancelled) continue;
      running += 1;
      job.run().finally(() => {
        running -= 1;
        pump();
      });
    }
  }

  function enqueue(file, meta) {
    const job = new UploadJob(file, meta || {});
    // After the whole batch (files dropped together) took its options.
    if (job.options.voice_lab) queueMicrotask(resetVoiceLab);
    waiting.push(job);
    pump();
    return job;
  }

  window.VerbatimUpload = { enqueue };

  const input = document.getElementById("file-input");
  input.addEventListener("change", () => {
    Array.from(input.files).forEach((file) => enqueue(file, { source: "upload" }));
    input.value = ""; // the same file can be chosen again
  });

  const zone = root.querySelector("[data-dropzone]");
  ["dragenter", "dragover"].forEach((type) => {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach((type) => {
    zone.addEventListener(type, () => zone.classList.remove("over"));
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (input.disabled) return;
    Array.from(event.dataTransfer.files).forEach((file) => enqueue(file, { source: "upload" }));
  });

  // Leaving the page would cut the uploads off; the browser asks first.
  window.addEventListener("beforeunload", (event) => {
    if (running > 0 || waiting.some((job) => !job.cancelled)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
