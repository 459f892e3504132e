// Private Transcript cryptography, format version 1: the browser half (Web Crypto).
//
// The same format as app/private/crypto.py, which documents it in full and is the
// reference the tests hold this module to. In short:
// - passphrase key = PBKDF2-SHA256(NFC(passphrase), 16-byte salt, >= 600,000 iterations);
// - a random 32-byte data key, wrapped (AES-256-GCM) by the passphrase key and by the
//   recovery key; an ECDH P-256 key pair whose private half is wrapped by the data key;
// - transcripts: header (version, kind) then, for CONTENT, iv || AES-GCM under the data
//   key; for SEALED (the worker's), ephemeral point || iv || AES-GCM under
//   HKDF-SHA256(ECDH(ephemeral, ours), salt = ephemeral point);
// - AAD names the workspace, transcript and field, so moved ciphertext does not open.
// Keys that leave this module as CryptoKeys are non-extractable; raw key bytes live only
// as long as a wrap or re-wrap needs them.

import { t } from "../i18n.js";

export const VERSION = 1;
export const KDF = "PBKDF2-SHA256";
export const MIN_ITERATIONS = 600000;
export const MAX_ITERATIONS = 10000000;
export const SALT_BYTES = 16;
export const IV_BYTES = 12;
export const KEY_BYTES = 32;
export const POINT_BYTES = 65;
export const CONTENT = 1;
export const SEALED = 2;
export const TRANSCRIPT_FIELD = "transcript";

const PREFIX = "verbatim/private/v1";
const SEAL_INFO = "verbatim/private/v1/seal";
const PROOF_INFO = "verbatim/private/v1/proof";
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

// Why something did not open. `code`: "wrong-key" (wrong passphrase or key, or the data
// was changed or moved), "malformed", "unsupported".
export class PrivateCryptoError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "PrivateCryptoError";
    this.code = code;
  }
}

// ------------------------------------------------------------------ building blocks

export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function fromBase64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// Fields NUL-separated after the version prefix, as in the Python aad().
export function aad(...parts) {
  return utf8.encode([PREFIX, ...parts].join("\u0000"));
}

export function keyringAad(userId, purpose) {
  return aad("keyring", String(userId), purpose);
}

export function transcriptAad(header, workspaceId, transcriptId, field = TRANSCRIPT_FIELD) {
  return concat(header, aad("transcript", String(workspaceId), String(transcriptId), field));
}

export async function wrap(key, plaintext, associated) {
  const iv = randomBytes(IV_BYTES);
  const sealed = await subtle.encrypt({ name: "AES-GCM", iv, additionalData: associated }, key, plaintext);
  return concat(iv, new Uint8Array(sealed));
}

export async function unwrap(key, blob, associated) {
  if (blob.length < IV_BYTES + 16) throw new PrivateCryptoError("malformed", t("The encrypted data is too short to be valid."));
  try {
    const plain = await subtle.decrypt(
      { name: "AES-GCM", iv: blob.subarray(0, IV_BYTES), additionalData: associated },
      key,
      blob.subarray(IV_BYTES),
    );
    return new Uint8Array(plain);
  } catch {
    throw new PrivateCryptoError(
      "wrong-key",
      t("This does not open with your key: a wrong passphrase or key, or data that was changed or moved."),
    );
  }
}

function aesKey(raw, usages = ["encrypt", "decrypt"]) {
  return subtle.importKey("raw", raw, { name: "AES-GCM", length: 256 }, false, usages);
}

export async function passphraseKey(passphrase, salt, iterations) {
  if (!(iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS)) {
    throw new PrivateCryptoError(
      "unsupported",
      t("Unsupported key derivation cost: %(iterations)s iterations.", { iterations }),
    );
  }
  if (salt.length !== SALT_BYTES) {
    throw new PrivateCryptoError("malformed", t("The key derivation salt must be %(bytes)s bytes.", { bytes: SALT_BYTES }));
  }
  const base = await subtle.importKey("raw", utf8.encode(passphrase.normalize("NFC")), "PBKDF2", false, ["deriveKey"]);
  return subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

// HKDF-SHA256 of raw key material into 32 bytes (`salt` empty unless given).
async function hkdfBytes(ikm, info, salt = new Uint8Array(0)) {
  const base = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info: utf8.encode(info) }, base, 256);
  return new Uint8Array(bits);
}

export function proof(dataKey) {
  return hkdfBytes(dataKey, PROOF_INFO);
}

export async function verifier(proofBytes) {
  return new Uint8Array(await subtle.digest("SHA-256", proofBytes));
}

export async function fingerprint(publicPoint) {
  const digest = new Uint8Array(await subtle.digest("SHA-256", publicPoint));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function recoveryCode(key) {
  let bits = 0;
  let value = 0;
  let text = "";
  for (const byte of key) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) text += B32[(value << (5 - bits)) & 31];
  return text.match(/.{1,4}/g).join("-");
}

export function parseRecoveryCode(code) {
  const text = code.toUpperCase().replace(/[\s-]/g, "");
  if (text.length !== 52 || [...text].some((ch) => !B32.includes(ch))) {
    throw new PrivateCryptoError("malformed", t("A recovery key is 52 letters and digits (2-7) in groups of four."));
  }
  const out = new Uint8Array(KEY_BYTES);
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of text) {
    value = ((value << 5) | B32.indexOf(ch)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      if (at < KEY_BYTES) out[at++] = (value >>> (bits - 8)) & 255;
      bits -= 8;
    }
  }
  return out;
}

// ------------------------------------------------------------------ transcript envelopes

async function pipe(bytes, stream) {
  const piped = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

export function pack(doc) {
  return pipe(utf8.encode(JSON.stringify(doc)), new CompressionStream("gzip"));
}

export async function unpack(bytes) {
  try {
    return JSON.parse(new TextDecoder().decode(await pipe(bytes, new DecompressionStream("gzip"))));
  } catch {
    throw new PrivateCryptoError("malformed", t("The decrypted transcript is not readable."));
  }
}

export function envelopeKind(envelope) {
  if (envelope.length < 2) throw new PrivateCryptoError("malformed", t("Not an encrypted transcript."));
  if (envelope[0] !== VERSION) {
    throw new PrivateCryptoError(
      "unsupported",
      t("Unsupported encryption format version %(version)s.", { version: envelope[0] }),
    );
  }
  if (envelope[1] !== CONTENT && envelope[1] !== SEALED) {
    throw new PrivateCryptoError("malformed", t("Unknown kind of encrypted transcript."));
  }
  return envelope[1];
}

// A CONTENT envelope of `doc` under the data key (an AES-GCM CryptoKey).
export async function encryptDocument(doc, contentKey, workspaceId, transcriptId) {
  const header = new Uint8Array([VERSION, CONTENT]);
  const body = await wrap(contentKey, await pack(doc), transcriptAad(header, workspaceId, transcriptId));
  return concat(header, body);
}

// The document in a CONTENT (keys.contentKey) or SEALED (keys.privateKey) envelope.
export async function openEnvelope(envelope, keys, workspaceId, transcriptId) {
  const kind = envelopeKind(envelope);
  const header = envelope.subarray(0, 2);
  const associated = transcriptAad(header, workspaceId, transcriptId);
  if (kind === CONTENT) return unpack(await unwrap(keys.contentKey, envelope.subarray(2), associated));
  if (envelope.length < 2 + POINT_BYTES + IV_BYTES + 16) {
    throw new PrivateCryptoError("malformed", t("The encrypted transcript is truncated."));
  }
  const point = envelope.subarray(2, 2 + POINT_BYTES);
  let ephemeral;
  try {
    ephemeral = await subtle.importKey("raw", point, { name: "ECDH", namedCurve: "P-256" }, false, []);
  } catch {
    throw new PrivateCryptoError("malformed", t("The encrypted transcript names an invalid key."));
  }
  const shared = new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: ephemeral }, keys.privateKey, 256));
  const key = await aesKey(await hkdfBytes(shared, SEAL_INFO, point), ["decrypt"]);
  return unpack(await unwrap(key, envelope.subarray(2 + POINT_BYTES), associated));
}

// ------------------------------------------------------------------ keyrings

// The keys an unlocked keyring gives: non-extractable CryptoKeys, safe to keep in
// IndexedDB (structured clone keeps them non-extractable).
async function unlocked(dataKey, material, userId) {
  const contentKey = await aesKey(dataKey);
  const pkcs8 = await unwrap(contentKey, fromBase64(material.private_key_wrapped), keyringAad(userId, "private-key"));
  const privateKey = await subtle.importKey("pkcs8", pkcs8, { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  return { contentKey, privateKey, fingerprint: await fingerprint(fromBase64(material.public_key)) };
}

// A fresh keyring: { material (JSON for POST /account/private/keyring), recoveryCode,
// keys }. The recovery code is shown once and never sent.
export async function createKeyring(passphrase, userId, iterations = MIN_ITERATIONS) {
  const dataKey = randomBytes(KEY_BYTES);
  const recovery = randomBytes(KEY_BYTES);
  const salt = randomBytes(SALT_BYTES);
  const pair = await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const publicPoint = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
  const dataAes = await aesKey(dataKey);
  const material = {
    version: VERSION,
    kdf: { name: KDF, iterations, salt: toBase64(salt) },
    passphrase_wrapped: toBase64(await wrap(await passphraseKey(passphrase, salt, iterations), dataKey, keyringAad(userId, "passphrase"))),
    recovery_wrapped: toBase64(await wrap(await aesKey(recovery), dataKey, keyringAad(userId, "recovery"))),
    public_key: toBase64(publicPoint),
    private_key_wrapped: toBase64(await wrap(dataAes, pkcs8, keyringAad(userId, "private-key"))),
    verifier: toBase64(await verifier(await proof(dataKey))),
  };
  pkcs8.fill(0);
  const keys = await unlocked(dataKey, material, userId);
  dataKey.fill(0);
  return { material, recoveryCode: recoveryCode(recovery), keys };
}

// The raw data key behind a passphrase (throws PrivateCryptoError "wrong-key").
export async function dataKeyFromPassphrase(material, passphrase, userId) {
  const key = await passphraseKey(passphrase, fromBase64(material.kdf.salt), material.kdf.iterations);
  return unwrap(key, fromBase64(material.passphrase_wrapped), keyringAad(userId, "passphrase"));
}

export async function dataKeyFromRecovery(material, code, userId) {
  const key = await aesKey(parseRecoveryCode(code));
  return unwrap(key, fromBase64(material.recovery_wrapped), keyringAad(userId, "recovery"));
}

// Usable keys from a raw data key (then wipe the raw bytes).
export async function keysFromDataKey(dataKey, material, userId) {
  return unlocked(dataKey, material, userId);
}

// A new passphrase for the same data key: { proof, kdf, passphrase_wrapped } for
// POST /account/private/keys. Nothing else changes.
export async function rewrapPassphrase(dataKey, newPassphrase, userId, iterations = MIN_ITERATIONS) {
  const salt = randomBytes(SALT_BYTES);
  const key = await passphraseKey(newPassphrase, salt, iterations);
  return {
    proof: toBase64(await proof(dataKey)),
    kdf: { name: KDF, iterations, salt: toBase64(salt) },
    passphrase_wrapped: toBase64(await wrap(key, dataKey, keyringAad(userId, "passphrase"))),
  };
}

// A new recovery key for the same data key: { recoveryCode, fields } (fields for the
// same endpoint: proof and recovery_wrapped).
export async function newRecovery(dataKey, userId) {
  const recovery = randomBytes(KEY_BYTES);
  return {
    recoveryCode: recoveryCode(recovery),
    fields: {
      proof: toBase64(await proof(dataKey)),
      recovery_wrapped: toBase64(await wrap(await aesKey(recovery), dataKey, keyringAad(userId, "recovery"))),
    },
  };
}
