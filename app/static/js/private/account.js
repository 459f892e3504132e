// The Private Transcript account page (templates/private/account.html).
//
// Every key is made and opened here, in the browser; the server receives only wrapped keys
// and a proof (./crypto.js documents what each is). The flows:
// - turn on: a passphrase typed twice -> a new keyring in memory -> its recovery key shown
//   once (Copy, Download) -> "I have saved my recovery key" -> stored, and unlocked here;
// - change passphrase: current + new twice; the data key is re-wrapped, nothing else;
// - forgot passphrase: the recovery key + new twice, the same re-wrap;
// - new recovery key: the passphrase -> a new key shown once -> replaces the old on confirm;
// - private by default, lock/unlock in this browser, reset (clears this browser's keys first).

import { t } from "../i18n.js";
import * as pc from "./crypto.js";
import { forgetKeyring, loadKeyring, lock, rememberKeys, requestUnlock, unlockedUntil } from "./keyring.js";

const MIN_PASSPHRASE = 10;
const root = document.getElementById("private-account");

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (_err) {
    return "";
  }
}

async function postJson(url, body) {
  let resp;
  try {
    resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  } catch (_err) {
    throw new Error(t("The server could not be reached. Check your connection and try again."));
  }
  let data = {};
  try {
    data = await resp.json();
  } catch (_err) {
    // a sign-in page or a proxy's error: no JSON
  }
  if (!resp.ok || resp.redirected) {
    throw new Error(
      data.error ||
        (resp.redirected
          ? t("You were signed out. Sign in again.")
          : t("The server refused (%(status)s).", { status: resp.status })),
    );
  }
  return data;
}

function show(box, message) {
  if (!box) return;
  box.textContent = message || "";
  box.hidden = !message;
}

// Runs `work` with the button disabled and saying what is happening; errors shown in `box`.
async function busy(button, label, box, work) {
  const was = button.textContent;
  button.disabled = true;
  button.textContent = label;
  show(box, "");
  try {
    return await work();
  } catch (err) {
    show(box, err?.message || String(err));
    return undefined;
  } finally {
    button.disabled = false;
    button.textContent = was;
  }
}

// The new passphrase of a form with `passphrase` and `passphrase_again`, or an Error saying
// what is wrong with it.
function newPassphrase(form) {
  const value = form.elements.passphrase.value;
  if ([...value].length < MIN_PASSPHRASE) {
    throw new Error(
      t("Your passphrase needs at least %(min)s characters. A few unrelated words are long and easy to remember.", {
        min: MIN_PASSPHRASE,
      }),
    );
  }
  if (value !== form.elements.passphrase_again.value) {
    throw new Error(t("The two new passphrases differ. Type the same one twice."));
  }
  return value;
}

function explain(err, what) {
  if (err instanceof pc.PrivateCryptoError && err.code === "wrong-key") {
    return new Error(what === "recovery"
      ? t("That recovery key does not open your keyring. Check it and try again.")
      : t("That is not your current passphrase. Check it and try again."));
  }
  return err;
}

// The keyring as stored now (not a copy cached earlier on this page).
async function freshKeyring() {
  forgetKeyring();
  const material = await loadKeyring();
  if (!material) {
    window.location.reload();
    throw new Error(t("Private Transcript is not on any more."));
  }
  return material;
}

async function dataKeyFrom(material, secret, via) {
  try {
    return via === "recovery"
      ? await pc.dataKeyFromRecovery(material, secret, material.user_id)
      : await pc.dataKeyFromPassphrase(material, secret, material.user_id);
  } catch (err) {
    throw explain(err, via);
  }
}

// ------------------------------------------------------------------ the recovery key, once

// Lines of at most `width` characters, broken between words (a longer word stays whole).
function wrap(text, width = 80) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}

function recoveryText(code) {
  const account = t("Account:");
  const made = t("Made:");
  const pad = (label) => label.padEnd(Math.max(account.length, made.length) + 1);
  const usage = t('Use it at %(url)s ("%(label)s").', {
    url: `${location.origin}/account/private`,
    label: t("Forgot passphrase? Use recovery key"),
  });
  return [
    t("Verbatim - Private Transcript recovery key"),
    "",
    `${pad(account)}${root.dataset.email}`,
    `${pad(made)}${new Date().toISOString().slice(0, 10)}`,
    "",
    `    ${code}`,
    "",
    ...wrap(t("This key opens your private transcripts if you forget your passphrase.")),
    ...wrap(t("Keep it safe and away from this computer: anyone who has it can read them.")),
    usage,
    ...wrap(t("If you lose both this key and your passphrase, nobody can recover your private transcripts, including Verbatim.")),
    "",
  ].join("\n");
}

// Shows `code` in the panel; `finish` runs when the person confirmed they saved it.
function showRecovery(panel, code, { finish, cancel }) {
  const codeBox = panel.querySelector("[data-recovery-code]");
  const saved = panel.querySelector("[data-saved-recovery]");
  const done = panel.querySelector("[data-finish]");
  const note = panel.querySelector("[data-recovery-note]");
  const error = panel.querySelector("[data-error]");
  codeBox.textContent = code;
  saved.checked = false;
  done.disabled = true;
  note.textContent = "";
  show(error, "");
  panel.hidden = false;

  const controller = new AbortController();
  const on = (el, type, fn) => el.addEventListener(type, fn, { signal: controller.signal });
  const close = () => {
    controller.abort();
    codeBox.textContent = "";
    panel.hidden = true;
  };
  on(saved, "change", () => {
    done.disabled = !saved.checked;
  });
  on(panel.querySelector("[data-copy-recovery]"), "click", async () => {
    try {
      await navigator.clipboard.writeText(code);
      note.textContent = t("Copied.");
    } catch (_err) {
      window.getSelection().selectAllChildren(codeBox);
      note.textContent = t("Selected: press Ctrl+C (or ⌘C) to copy.");
    }
  });
  on(panel.querySelector("[data-download-recovery]"), "click", () => {
    const url = URL.createObjectURL(new Blob([recoveryText(code)], { type: "text/plain" }));
    const link = Object.assign(document.createElement("a"), { href: url, download: "verbatim-recovery-key.txt" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    note.textContent = t("Downloaded %(file)s.", { file: "verbatim-recovery-key.txt" });
  });
  on(done, "click", () => {
    if (!saved.checked) return;
    busy(done, t("Saving…"), error, async () => {
      await finish();
      close();
    });
  });
  on(panel.querySelector("[data-cancel]"), "click", () => {
    close();
    cancel();
  });
  codeBox.scrollIntoView({ block: "center" });
}

// ------------------------------------------------------------------ turning it on

function setUp() {
  const form = document.getElementById("private-setup-form");
  const panel = document.getElementById("private-setup-recovery");
  const error = form.querySelector("[data-error]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    busy(button, t("Making your keys…"), error, async () => {
      const passphrase = newPassphrase(form);
      const made = await pc.createKeyring(passphrase, root.dataset.userId, Number(root.dataset.iterations));
      const privateByDefault = form.elements.private_by_default.checked;
      form.elements.passphrase.value = "";
      form.elements.passphrase_again.value = "";
      form.hidden = true;
      showRecovery(panel, made.recoveryCode, {
        finish: async () => {
          await postJson(root.dataset.keyringUrl, { ...made.material, private_by_default: privateByDefault });
          forgetKeyring();
          await rememberKeys(root.dataset.userId, made.keys);
          window.location.reload();
        },
        cancel: () => {
          form.hidden = false; // nothing was stored; a new keyring is made next time
        },
      });
    });
  });
}

// ------------------------------------------------------------------ once it is on

function changePassphrase() {
  const form = document.getElementById("private-change-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    show(form.querySelector("[data-done]"), "");
    busy(button, t("Changing…"), form.querySelector("[data-error]"), async () => {
      const current = form.elements.current.value;
      if (!current) throw new Error(t("Enter your current passphrase."));
      const next = newPassphrase(form);
      if (next === current) throw new Error(t("The new passphrase is the same as the current one."));
      await rewrap(await freshKeyring(), current, "passphrase", next);
      form.reset();
      show(form.querySelector("[data-done]"), t("Passphrase changed. Use the new one from now on; the old one no longer works."));
    });
  });
}

function recoverWithKey() {
  const form = document.getElementById("private-recover-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    show(form.querySelector("[data-done]"), "");
    busy(button, t("Setting…"), form.querySelector("[data-error]"), async () => {
      const code = form.elements.recovery_code.value.trim();
      if (!code) throw new Error(t("Enter your recovery key."));
      const next = newPassphrase(form);
      await rewrap(await freshKeyring(), code, "recovery", next);
      form.reset();
      show(
        form.querySelector("[data-done]"),
        t("Your new passphrase is set, and your private transcripts are unlocked in this browser."),
      );
    });
  });
}

// A new passphrase for the data key that `secret` (passphrase or recovery key) opens; the
// keys stay unlocked in this browser.
async function rewrap(material, secret, via, next) {
  const dataKey = await dataKeyFrom(material, secret, via);
  try {
    const fields = await pc.rewrapPassphrase(dataKey, next, material.user_id, material.iterations);
    const keys = await pc.keysFromDataKey(dataKey, material, material.user_id);
    await postJson(root.dataset.keysUrl, { ...fields, via });
    forgetKeyring();
    await rememberKeys(material.user_id, keys);
  } finally {
    dataKey.fill(0);
  }
}

function newRecoveryKey() {
  const form = document.getElementById("private-rotate-form");
  const panel = document.getElementById("private-rotate-recovery");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    show(form.querySelector("[data-done]"), "");
    busy(button, t("Making…"), form.querySelector("[data-error]"), async () => {
      const current = form.elements.current.value;
      if (!current) throw new Error(t("Enter your passphrase."));
      const material = await freshKeyring();
      const dataKey = await dataKeyFrom(material, current, "passphrase");
      let made;
      try {
        made = await pc.newRecovery(dataKey, material.user_id);
      } finally {
        dataKey.fill(0);
      }
      form.reset();
      form.hidden = true;
      showRecovery(panel, made.recoveryCode, {
        finish: async () => {
          await postJson(root.dataset.keysUrl, { ...made.fields, via: "passphrase" });
          forgetKeyring();
          form.hidden = false;
          show(form.querySelector("[data-done]"), t("Your new recovery key is saved. The old one no longer works."));
        },
        cancel: () => {
          form.hidden = false; // the old recovery key still works
        },
      });
    });
  });
}

function privateByDefault() {
  const form = document.getElementById("private-default-form");
  const box = form.elements.private_by_default;
  const note = form.querySelector("[data-default-note]");
  form.querySelector("[data-default-save]").hidden = true; // saved as it is ticked
  box.addEventListener("change", async () => {
    box.disabled = true;
    note.textContent = t("Saving…");
    try {
      const data = await postJson(form.action, { private_by_default: box.checked });
      box.checked = data.private_by_default;
      note.textContent = data.private_by_default
        ? t("Saved: new transcripts are private unless you choose otherwise.")
        : t("Saved: new transcripts are not private unless you choose so.");
    } catch (err) {
      box.checked = !box.checked;
      note.textContent = err.message;
    } finally {
      box.disabled = false;
    }
  });
}

function lockState() {
  const state = document.getElementById("private-lock-state");
  const unlockButton = document.getElementById("private-unlock-button");
  const lockButton = document.getElementById("private-lock-button");
  const refresh = async () => {
    let until = null;
    try {
      until = await unlockedUntil();
    } catch (err) {
      state.textContent = err.message;
      return;
    }
    state.textContent = until
      ? t("Unlocked in this browser until %(until)s.", {
          until: new Date(until).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }),
        })
      : t("Locked in this browser: private transcripts ask for your passphrase before they open.");
    unlockButton.hidden = Boolean(until);
    lockButton.hidden = !until;
  };
  unlockButton.addEventListener("click", () => {
    requestUnlock().then(refresh, (err) => {
      if (err?.message !== "cancelled") state.textContent = err.message;
    });
  });
  lockButton.addEventListener("click", async () => {
    await lock();
    await refresh();
  });
  document.addEventListener("private:keys", refresh);
  refresh();
}

function resetForm() {
  const form = document.getElementById("private-reset-form");
  form.addEventListener("submit", (event) => {
    if (event.defaultPrevented) return;
    event.preventDefault();
    // This browser's keys belong to the keyring about to go: forget them first.
    lock().catch(() => {}).finally(() => form.submit());
  });
}

if (root) {
  if (root.dataset.state === "on") {
    lockState();
    privateByDefault();
    changePassphrase();
    recoverWithKey();
    newRecoveryKey();
    resetForm();
  } else {
    setUp();
  }
}
