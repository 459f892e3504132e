// Private Transcript keys in this browser: load the keyring, unlock it, keep it unlocked
// for a while, lock it.
//
// The keyring (GET /account/private/keyring) is only wrapped keys; unlocking it with the
// passphrase or recovery key gives non-extractable CryptoKeys { contentKey, privateKey,
// fingerprint } (./crypto.js). Those are kept in IndexedDB "verbatim-private", one entry
// per person, so the next page need not ask again: script cannot read their bytes, only
// use them. They are forgotten on Lock, on sign-out (the layout's form posting to
// /logout), when the keyring is reset or replaced, and after 12 hours.
//
// Pages hear about changes through a "private:keys" event on document ({ detail:
// { unlocked } }), also when another tab of this site locks or unlocks.
//
// Loaded by the layout on every page (for the sign-out hook); pages import what they use.

import { t } from "../i18n.js";
import * as pc from "./crypto.js";

const DB_NAME = "verbatim-private";
const STORE = "keys";
export const UNLOCK_HOURS = 12;
const TTL_MS = UNLOCK_HOURS * 3600 * 1000;
const KEYRING_URL = "/account/private/keyring";
const channel = "BroadcastChannel" in globalThis ? new BroadcastChannel("verbatim-private") : null;

// ------------------------------------------------------------------ IndexedDB

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDb() {
  const req = indexedDB.open(DB_NAME, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "user" });
  return request(req);
}

async function withStore(mode, work) {
  const db = await openDb();
  try {
    const tx = db.transaction(STORE, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onabort = tx.onerror = () => reject(tx.error);
    });
    const result = await work(tx.objectStore(STORE));
    await done;
    return result;
  } finally {
    db.close();
  }
}

// Only when the database exists already: a person who never used Private Transcript
// gets none made by merely browsing.
async function dbExists() {
  if (!indexedDB.databases) return true;
  const names = (await indexedDB.databases()).map((d) => d.name);
  return names.includes(DB_NAME);
}

function announce(unlocked, fromOtherTab = false) {
  document.dispatchEvent(new CustomEvent("private:keys", { detail: { unlocked } }));
  if (!fromOtherTab && channel) channel.postMessage({ unlocked });
}

if (channel) channel.onmessage = (event) => announce(Boolean(event.data?.unlocked), true);

// ------------------------------------------------------------------ the keyring

let keyringPromise = null;

async function fetchKeyring() {
  const resp = await fetch(KEYRING_URL, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const json = (resp.headers.get("Content-Type") || "").includes("application/json");
  if (resp.status === 404 && json) return null;
  if (!resp.ok || !json || resp.redirected) {
    throw new Error(
      resp.redirected
        ? t("You were signed out. Sign in again.")
        : t("Could not load your keyring (%(status)s).", { status: resp.status }),
    );
  }
  return resp.json();
}

// The keyring's material (KeyringMaterial.to_json() plus user_id, fingerprint,
// private_by_default and iterations), or null when Private Transcript is off. Fetched once
// per page; forgetKeyring() makes the next call fetch again.
export function loadKeyring() {
  if (!keyringPromise) {
    keyringPromise = fetchKeyring().catch((err) => {
      keyringPromise = null;
      throw err;
    });
  }
  return keyringPromise;
}

export function forgetKeyring() {
  keyringPromise = null;
}

// ------------------------------------------------------------------ unlocked keys

// Keep keys unlocked for this person for UNLOCK_HOURS.
export async function rememberKeys(userId, keys) {
  const entry = { user: String(userId), keys, expires: Date.now() + TTL_MS };
  await withStore("readwrite", (store) => request(store.put(entry)));
  announce(true);
  return entry.expires;
}

async function entryFor(material) {
  if (!material || !(await dbExists())) return null;
  const entry = await withStore("readonly", (store) => request(store.get(String(material.user_id))));
  if (!entry) return null;
  // Expired, or keys of a keyring that was reset and made anew: useless, so gone.
  if (entry.expires <= Date.now() || entry.keys?.fingerprint !== material.fingerprint) {
    await withStore("readwrite", (store) => request(store.delete(entry.user)));
    return null;
  }
  return entry;
}

// { contentKey, privateKey, fingerprint } while unlocked in this browser, else null.
export async function unlockedKeys() {
  const entry = await entryFor(await loadKeyring());
  return entry ? entry.keys : null;
}

// When the keys stop being kept (ms since the epoch), or null when locked.
export async function unlockedUntil() {
  const entry = await entryFor(await loadKeyring());
  return entry ? entry.expires : null;
}

// Forget every unlocked key in this browser.
export async function lock() {
  if (await dbExists()) await withStore("readwrite", (store) => request(store.clear()));
  announce(false);
}

// ------------------------------------------------------------------ the unlock dialog

const DIALOG_ID = "private-unlock";
let pending = null;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && key !== "type") node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function ensureStyles() {
  if (document.querySelector('link[href$="css/private.css"]')) return;
  document.head.append(el("link", { rel: "stylesheet", href: new URL("../../css/private.css", import.meta.url).href }));
}

// The page's own <dialog id="private-unlock"> when it has one, else this one.
function dialog() {
  const found = document.getElementById(DIALOG_ID);
  if (found) return found;
  ensureStyles();
  const passphrase = el("label", { dataset: { mode: "passphrase" } }, t("Passphrase"),
    el("input", { type: "password", name: "passphrase", autocomplete: "current-password" }));
  const recovery = el("label", { dataset: { mode: "recovery" }, hidden: true }, t("Recovery key"),
    el("input", { type: "text", name: "recovery_code", autocomplete: "off", spellcheck: false,
      placeholder: "ABCD-EFGH-…" }));
  const node = el("dialog", { id: DIALOG_ID, className: "private-unlock", "aria-labelledby": `${DIALOG_ID}-title` },
    el("form", { method: "dialog" },
      el("h2", { id: `${DIALOG_ID}-title` }, t("Unlock Private Transcript")),
      el("p", { className: "muted" },
        t("Your passphrase opens your private transcripts in this browser for up to %(hours)s hours. It never leaves this browser.",
          { hours: UNLOCK_HOURS })),
      passphrase,
      recovery,
      el("p", { className: "flash error", role: "alert", hidden: true, dataset: { privateError: "" } }),
      el("div", { className: "row" },
        el("button", { type: "submit", value: "unlock" }, t("Unlock")),
        el("button", { type: "button", className: "link", dataset: { privateSwitch: "" } }, t("Use recovery key")),
        el("button", { type: "button", className: "secondary", value: "cancel", dataset: { privateCancel: "" } }, t("Cancel")))));
  document.body.append(node);
  return node;
}

function showMode(node, mode) {
  node.dataset.mode = mode;
  for (const label of node.querySelectorAll("[data-mode]")) {
    label.hidden = label.dataset.mode !== mode;
    label.style.display = label.hidden ? "none" : ""; // pages' "form label" rules beat [hidden]
  }
  const toggle = node.querySelector("[data-private-switch]");
  if (toggle) toggle.textContent = mode === "recovery" ? t("Use passphrase") : t("Use recovery key");
  node.querySelector(mode === "recovery" ? "input[name=recovery_code]" : "input[name=passphrase]")?.focus();
}

function say(node, message) {
  const box = node.querySelector("[data-private-error]");
  box.textContent = message || "";
  box.hidden = !message;
}

const WRONG = {
  passphrase: t("That passphrase does not unlock your keyring. Check it and try again."),
  recovery: t("That recovery key does not unlock your keyring. Check it and try again."),
};

async function unlockWith(node, material) {
  const mode = node.dataset.mode || "passphrase";
  const input = node.querySelector(mode === "recovery" ? "input[name=recovery_code]" : "input[name=passphrase]");
  if (!input.value) {
    throw new pc.PrivateCryptoError("empty", mode === "recovery" ? t("Enter your recovery key.") : t("Enter your passphrase."));
  }
  const userId = material.user_id;
  const dataKey = mode === "recovery"
    ? await pc.dataKeyFromRecovery(material, input.value, userId)
    : await pc.dataKeyFromPassphrase(material, input.value, userId);
  try {
    return await pc.keysFromDataKey(dataKey, material, userId);
  } finally {
    dataKey.fill(0);
  }
}

// Ask for the passphrase (or recovery key) and resolve to the unlocked keys; rejects with
// Error("cancelled") when the person cancels, Error("no keyring") when it is off.
export function requestUnlock() {
  if (pending) return pending;
  pending = (async () => {
    const material = await loadKeyring();
    if (!material) throw new Error("no keyring");
    const already = await unlockedKeys();
    if (already) return already;
    const node = dialog();
    const form = node.querySelector("form");
    const submit = form.querySelector("button[type=submit]");
    say(node, "");
    form.reset();
    if (!node.open) node.showModal();
    showMode(node, "passphrase");
    return new Promise((resolve, reject) => {
      const finish = () => {
        form.removeEventListener("submit", onSubmit);
        form.removeEventListener("click", onClick);
        node.removeEventListener("cancel", onCancel);
        form.reset();
        if (node.open) node.close();
      };
      const onSubmit = async (event) => {
        event.preventDefault();
        if (submit.disabled) return;
        submit.disabled = true;
        say(node, "");
        const label = submit.textContent;
        submit.textContent = t("Unlocking…");
        try {
          const keys = await unlockWith(node, material);
          await rememberKeys(material.user_id, keys);
          finish();
          resolve(keys);
        } catch (err) {
          const mode = node.dataset.mode || "passphrase";
          say(node, err?.code === "wrong-key" ? WRONG[mode] : err?.message || String(err));
          form.querySelector(mode === "recovery" ? "input[name=recovery_code]" : "input[name=passphrase]")?.select();
        } finally {
          submit.disabled = false;
          submit.textContent = label;
        }
      };
      const onCancel = (event) => {
        event.preventDefault();
        finish();
        reject(new Error("cancelled"));
      };
      const onClick = (event) => {
        if (event.target.closest("[data-private-switch]")) {
          say(node, "");
          showMode(node, node.dataset.mode === "recovery" ? "passphrase" : "recovery");
        } else if (event.target.closest("[data-private-cancel]")) {
          onCancel(event);
        }
      };
      form.addEventListener("submit", onSubmit);
      form.addEventListener("click", onClick);
      node.addEventListener("cancel", onCancel); // Escape
    });
  })().finally(() => {
    pending = null;
  });
  return pending;
}

// ------------------------------------------------------------------ housekeeping

// Signing out forgets the keys first. The form is held back until they are gone (at most
// a second), then sent as it was.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (event.defaultPrevented || !(form instanceof HTMLFormElement)) return;
  if (new URL(form.action, location.href).pathname !== "/logout") return;
  event.preventDefault();
  const timeout = new Promise((resolve) => setTimeout(resolve, 1000));
  Promise.race([lock(), timeout]).catch(() => {}).finally(() => form.submit());
});

// Expired keys do not wait for the next unlock to be thrown away.
(async () => {
  if (!globalThis.indexedDB || !(await dbExists())) return;
  const now = Date.now();
  await withStore("readwrite", async (store) => {
    for (const entry of await request(store.getAll())) {
      if (entry.expires <= now) await request(store.delete(entry.user));
    }
  });
})().catch(() => {});
