// Record in the browser with MediaRecorder, then upload the recording through upload.js
// (source "recording"). Shows the elapsed time and the input level while recording.
(() => {
  "use strict";

  // Words in the page's language: window.verbatimT comes from i18n.js, a module the layout
  // runs before this script; without it, the English with its placeholders filled.
  const t = (english, vars) =>
    window.verbatimT
      ? window.verbatimT(english, vars)
      : english.replace(/%\((\w+)\)s/g, (whole, name) => (vars && name in vars ? String(vars[name]) : whole));

  const root = document.querySelector("[data-recorder]");
  if (!root) return;

  const startButton = root.querySelector("[data-rec-start]");
  const stopButton = root.querySelector("[data-rec-stop]");
  const elapsed = root.querySelector("[data-rec-elapsed]");
  const level = root.querySelector("[data-rec-level]");
  const message = root.querySelector("[data-rec-message]");
  const title = document.getElementById("rec-title");
  const list = root.querySelector("[data-rec-uploads]");
  // In order of preference; the server probes the content whatever the browser picks.
  const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];

  let recorder = null;
  let stream = null;
  let chunks = [];
  let startedAt = 0;
  let timer = 0;
  let audio = null;
  let frame = 0;

  function say(text) {
    message.textContent = text;
  }

  if (!navigator.mediaDevices?.getUserMedia || typeof window.MediaRecorder === "undefined") {
    startButton.disabled = true;
    say(t("Recording is not available in this browser (it needs a secure https page)."));
    return;
  }

  function clock(ms) {
    const total = Math.floor(ms / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function tick() {
    elapsed.textContent = clock(Date.now() - startedAt);
  }

  function watchLevel() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context || !level) return;
    audio = new Context();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    audio.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const draw = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const x of samples) sum += x * x;
      level.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      frame = requestAnimationFrame(draw);
    };
    draw();
  }

  function stamp() {
    const d = new Date();
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  }

  function extension(type) {
    if (type.includes("ogg")) return "ogg";
    if (type.includes("mp4")) return "m4a";
    return "webm";
  }

  function release() {
    clearInterval(timer);
    cancelAnimationFrame(frame);
    if (audio) audio.close().catch(() => {});
    audio = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    if (level) level.value = 0;
    root.classList.remove("recording");
    startButton.disabled = false;
    stopButton.disabled = true;
  }

  function finish() {
    const type = recorder.mimeType || chunks[0]?.type || "audio/webm";
    const blob = new Blob(chunks, { type });
    const length = clock(Date.now() - startedAt);
    chunks = [];
    recorder = null;
    release();
    if (!blob.size) {
      say(t("Nothing was recorded."));
      return;
    }
    say(t("Recorded %(length)s. Uploading…", { length }));
    window.VerbatimUpload.enqueue(blob, {
      filename: `recording-${stamp()}.${extension(type)}`,
      source: "recording",
      title: title.value.trim() || t("Recording %(when)s", { when: new Date().toLocaleString() }),
      list,
    });
  }

  startButton.addEventListener("click", async () => {
    startButton.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      startButton.disabled = false;
      say(
        err && err.name === "NotAllowedError"
          ? t("The browser may not use the microphone here. Allow it in the site settings and try again.")
          : t("No microphone could be opened."),
      );
      return;
    }
    const type = TYPES.find((candidate) => MediaRecorder.isTypeSupported(candidate));
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    chunks = [];
    recorder.addEventListener("dataavailable", (event) => {
      if (event.data && event.data.size) chunks.push(event.data);
    });
    recorder.addEventListener("stop", finish);
    recorder.addEventListener("error", () => {
      release();
      say(t("The recording stopped because of an error in the browser."));
    });
    recorder.start(1000); // a piece a second, not one huge buffer at the end
    startedAt = Date.now();
    tick();
    timer = setInterval(tick, 250);
    watchLevel();
    root.classList.add("recording");
    stopButton.disabled = false;
    say(t("Recording… press Stop when you are done."));
  });

  stopButton.addEventListener("click", () => {
    stopButton.disabled = true;
    if (recorder && recorder.state !== "inactive") recorder.stop();
  });
})();
