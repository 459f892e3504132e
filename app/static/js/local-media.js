// The person's own copy of a recording, kept in this browser (IndexedDB) so the transcript
// page can play it: the server deletes the audio once it is transcribed, and playback must
// never send the file again. Records are looked up by transcript id; one file can serve
// several transcripts (a comparison makes two from one upload), so a record lists its ids.
// A budget caps what is kept and the oldest files go first. Every failure (no IndexedDB,
// private browsing, QuotaExceededError, a blocked upgrade) is silent and reads as "not kept":
// the transcript page then asks the person to choose the file again.
//
// An ES module: player.js imports it; upload.js (a classic script) loads it with import().

const DB_NAME = "verbatim-local-media";
const DB_VERSION = 1;
const STORE = "files";
const BY_TRANSCRIPT = "transcripts"; // multiEntry index over each record's `ids`

// At most this much is kept, and never more than this share of the origin's quota, so a
// few long recordings cannot crowd out everything else the site stores.
export const MAX_BYTES = 2 * 1024 ** 3;
const QUOTA_SHARE = 0.5;

let opening = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new DOMException("Transaction aborted", "AbortError"));
  });
}

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      if (!window.indexedDB) {
        reject(new Error("IndexedDB is not available"));
        return;
      }
      const req = window.indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: "key", autoIncrement: true });
        store.createIndex(BY_TRANSCRIPT, "ids", { multiEntry: true });
      };
      req.onsuccess = () => {
        const db = req.result;
        // Another tab upgrades the database: step aside; the next call opens it again.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error("IndexedDB upgrade blocked by another tab"));
    });
    opening.catch(() => {
      opening = null; // try again next time (the person may free some space)
    });
  }
  return opening;
}

async function budget() {
  let limit = MAX_BYTES;
  try {
    const { quota } = await navigator.storage.estimate();
    if (quota) limit = Math.min(limit, quota * QUOTA_SHARE);
  } catch (_err) {
    // No StorageManager: the fixed cap applies, and the browser still refuses what it must.
  }
  return limit;
}

function walk(source, range, visit) {
  return new Promise((resolve, reject) => {
    const req = source.openCursor(range);
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) {
        resolve();
        return;
      }
      visit(cursor);
      cursor.continue();
    };
    req.onerror = () => reject(req.error);
  });
}

function cleanIds(ids) {
  return [...new Set((ids || []).map((id) => String(id)).filter(Boolean))];
}

/**
 * Keep `file` (a File or Blob) for the given transcript ids, replacing what was kept for
 * them. Evicts the oldest files to stay within the budget (`limit` bytes when given and
 * smaller). Resolves to true when kept, false otherwise (too large, no space, no
 * IndexedDB); never rejects.
 */
export async function keep(file, { name = "", ids = [], limit: cap = Infinity } = {}) {
  try {
    const wanted = cleanIds(ids);
    if (!wanted.length || !(file instanceof Blob) || !file.size) return false;
    const limit = Math.min(await budget(), cap);
    if (file.size > limit) return false;
    const db = await open();
    const tx = db.transaction(STORE, "readwrite");
    const done = finished(tx);
    const store = tx.objectStore(STORE);
    const others = []; // [key, size] of the records that stay, oldest first (keys ascend)
    await walk(store, null, (cursor) => {
      const record = cursor.value;
      const rest = record.ids.filter((id) => !wanted.includes(id));
      if (!rest.length) {
        cursor.delete();
        return;
      }
      if (rest.length !== record.ids.length) cursor.update({ ...record, ids: rest });
      others.push([record.key, record.size || 0]);
    });
    let total = others.reduce((sum, [, size]) => sum + size, 0);
    for (const [key, size] of others) {
      if (total + file.size <= limit) break;
      store.delete(key);
      total -= size;
    }
    store.add({
      blob: file,
      name: name || file.name || "",
      size: file.size,
      type: file.type || "",
      ids: wanted,
      storedAt: Date.now(),
    });
    await done;
    return true;
  } catch (_err) {
    return false; // QuotaExceededError and friends: the page offers to pick the file instead
  }
}

/**
 * The file kept for a transcript: {blob, name, size, type, storedAt}, or null when there is
 * none (or IndexedDB cannot be used). Never rejects.
 */
export async function find(transcriptId) {
  try {
    const db = await open();
    const tx = db.transaction(STORE, "readonly");
    const index = tx.objectStore(STORE).index(BY_TRANSCRIPT);
    const record = await request(index.get(String(transcriptId)));
    if (!record || !(record.blob instanceof Blob)) return null;
    const { blob, name, size, type, storedAt } = record;
    return { blob, name, size, type, storedAt };
  } catch (_err) {
    return null;
  }
}

/**
 * Stop keeping the file for a transcript; the file itself goes once no transcript uses it.
 * Resolves to true when something was forgotten; never rejects.
 */
export async function forget(transcriptId) {
  const id = String(transcriptId);
  try {
    const db = await open();
    const tx = db.transaction(STORE, "readwrite");
    const done = finished(tx);
    const index = tx.objectStore(STORE).index(BY_TRANSCRIPT);
    let found = false;
    await walk(index, IDBKeyRange.only(id), (cursor) => {
      found = true;
      const rest = cursor.value.ids.filter((other) => other !== id);
      if (rest.length) cursor.update({ ...cursor.value, ids: rest });
      else cursor.delete();
    });
    await done;
    return found;
  } catch (_err) {
    return false;
  }
}

/** Forget every kept file (for signing out on a shared device). Never rejects. */
export async function forgetAll() {
  try {
    const db = await open();
    const tx = db.transaction(STORE, "readwrite");
    const done = finished(tx);
    tx.objectStore(STORE).clear();
    await done;
    return true;
  } catch (_err) {
    return false;
  }
}
