"""The browser's Private Transcript module (app/static/js/private/crypto.js) against the
Python reference (app/private/crypto.py), both ways: keyrings, proofs, envelopes and the
errors a wrong key, a moved or tampered envelope and a future format give.

One page of the live server imports the module; the Python side makes and checks the
other half. Unicode text throughout, since JSON and UTF-8 are part of the format."""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from app.private import crypto
from app.private.crypto import PrivateCryptoError
from tests.browser.conftest import Watched, watch

pytestmark = pytest.mark.browser

USER = "0d4c9a51-1111-4111-8111-000000000001"
WORKSPACE = "0d4c9a51-2222-4222-8222-000000000002"
TRANSCRIPT = "0d4c9a51-3333-4333-8333-000000000003"
PASSPHRASE = "Grüße aus Köln, 東京 🌧"  # NFC
CANARY = "yellow zebra chocolate"
DOC: dict[str, Any] = {
    "v": 1,
    "language": "fr",
    "duration": 42.5,
    "speakers": [
        {"label": "SPEAKER_00", "name": "Zoë Ñúñez"},
        {"label": "SPEAKER_01", "name": "山田 太郎"},
    ],
    "segments": [
        {
            "start": 0.0,
            "end": 3.25,
            "text": f"Déjà vu, {CANARY}: café crème",
            "speaker": "SPEAKER_00",
            "words": [["Déjà", 0.0, 0.4, 0.93], ["vu,", 0.5, 0.8, None]],
        },
        {
            "start": 3.5,
            "end": 7.0,
            "text": "東京で会いましょう 🎉👩‍💻",
            "speaker": "SPEAKER_01",
            "words": [],
        },
        {
            "start": 7.5,
            "end": 9.0,
            "text": "שלום עולם — مرحبا بالعالم",
            "speaker": None,
            "words": [],
        },
    ],
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def material_from_json(wire: dict[str, Any]) -> crypto.KeyringMaterial:
    """The inverse of KeyringMaterial.to_json(), for what the browser sends."""
    d = base64.b64decode
    assert wire["version"] == crypto.VERSION and wire["kdf"]["name"] == crypto.KDF
    return crypto.KeyringMaterial(
        version=wire["version"],
        iterations=wire["kdf"]["iterations"],
        salt=d(wire["kdf"]["salt"]),
        passphrase_wrapped=d(wire["passphrase_wrapped"]),
        recovery_wrapped=d(wire["recovery_wrapped"]),
        public_key=d(wire["public_key"]),
        private_key_wrapped=d(wire["private_key_wrapped"]),
        verifier=d(wire["verifier"]),
    )


@pytest.fixture(scope="module")
def page(chromium: Browser, live_server: str) -> Iterator[Watched]:
    watched = watch(chromium, live_server, Watched, timeout_ms=30_000)
    watched.page.goto("/login")
    watched.page.evaluate(SETUP)
    yield watched
    watched.context.close()


# The module as `pc`, and `refusal(promise)`: the code of the PrivateCryptoError a bad
# input gave ("opened" when it was not refused, the error itself when it was another).
SETUP = """async () => {
  window.pc = await import("/static/js/private/crypto.js");
  window.refusal = async (promise) => {
    try { await promise; return "opened"; }
    catch (e) { return e instanceof pc.PrivateCryptoError ? e.code : `${e.name}: ${e.message}`; }
  };
}"""


def test_python_keyring_and_envelopes_open_in_the_browser(page: Watched) -> None:
    material, code, unlocked = crypto.new_keyring(PASSPHRASE, USER)
    sealed = crypto.seal(DOC, material.public_key, WORKSPACE, TRANSCRIPT)
    content = crypto.encrypt_content(DOC, unlocked.data_key, WORKSPACE, TRANSCRIPT)
    flipped = bytearray(sealed)
    flipped[len(sealed) // 2] ^= 0x10
    future = bytes((2,)) + sealed[1:]
    # Lower case, spaces instead of dashes: how people type a code from paper.
    messy_code = "  " + code.lower().replace("-", " ") + " "
    got = page.page.evaluate(
        """async ([m, passphrase, code, sealed, content, flipped, future, ws, t, user]) => {
          const byPassphrase = await pc.dataKeyFromPassphrase(m, passphrase, user);
          const byCode = await pc.dataKeyFromRecovery(m, code, user);
          const keys = await pc.keysFromDataKey(byPassphrase, m, user);
          const env = pc.fromBase64;
          const lowCost = { ...m, kdf: { ...m.kdf, iterations: 1000 } };
          const doc = await pc.openEnvelope(env(sealed), keys, ws, t);
          const stranger = pc.recoveryCode(pc.randomBytes(32));
          return {
            proofs: [await pc.proof(byPassphrase), await pc.proof(byCode)].map(pc.toBase64),
            fingerprint: keys.fingerprint,
            extractable: [keys.contentKey.extractable, keys.privateKey.extractable],
            sealed: doc,
            content: await pc.openEnvelope(env(content), keys, ws, t),
            mine: pc.toBase64(await pc.encryptDocument(doc, keys.contentKey, ws, t)),
            refused: {
              swappedTranscript: await refusal(pc.openEnvelope(env(sealed), keys, ws, user)),
              swappedWorkspace: await refusal(pc.openEnvelope(env(content), keys, t, t)),
              flippedBit: await refusal(pc.openEnvelope(env(flipped), keys, ws, t)),
              wrongPassphrase: await refusal(pc.dataKeyFromPassphrase(m, passphrase + "!", user)),
              otherUser: await refusal(pc.dataKeyFromPassphrase(m, passphrase, ws)),
              wrongCode: await refusal(pc.dataKeyFromRecovery(m, stranger, user)),
              badCode: await refusal(pc.dataKeyFromRecovery(m, "not a code", user)),
              lowCost: await refusal(pc.dataKeyFromPassphrase(lowCost, passphrase, user)),
              version2: await refusal(pc.openEnvelope(env(future), keys, ws, t)),
              truncated: await refusal(pc.openEnvelope(env(sealed).subarray(0, 40), keys, ws, t)),
            },
          };
        }""",
        [
            material.to_json(),
            unicodedata.normalize("NFD", PASSPHRASE),  # the browser normalises too
            messy_code,
            b64(sealed),
            b64(content),
            b64(bytes(flipped)),
            b64(future),
            WORKSPACE,
            TRANSCRIPT,
            USER,
        ],
    )
    proof = b64(crypto.proof(unlocked.data_key))
    assert got["proofs"] == [proof, proof]
    assert got["fingerprint"] == crypto.fingerprint(material.public_key)
    assert got["extractable"] == [False, False]
    assert got["sealed"] == DOC
    assert got["content"] == DOC
    mine = base64.b64decode(got["mine"])
    assert crypto.check_envelope(mine, crypto.CONTENT) == crypto.CONTENT
    assert crypto.open_envelope(mine, WORKSPACE, TRANSCRIPT, data_key=unlocked.data_key) == DOC
    with pytest.raises(PrivateCryptoError):
        crypto.open_envelope(mine, WORKSPACE, USER, data_key=unlocked.data_key)
    assert CANARY.encode() not in mine and "Déjà".encode() not in mine
    assert got["refused"] == {
        "swappedTranscript": "wrong-key",
        "swappedWorkspace": "wrong-key",
        "flippedBit": "wrong-key",
        "wrongPassphrase": "wrong-key",
        "otherUser": "wrong-key",
        "wrongCode": "wrong-key",
        "badCode": "malformed",
        "lowCost": "unsupported",
        "version2": "unsupported",
        "truncated": "malformed",
    }
    assert page.problems == []


def test_browser_keyring_and_key_changes_open_in_python(page: Watched) -> None:
    made = page.page.evaluate(
        """async ([passphrase, min, user]) => {
          const made = await pc.createKeyring(passphrase, user, min);
          const dataKey = await pc.dataKeyFromPassphrase(made.material, passphrase, user);
          const rewrap = await pc.rewrapPassphrase(dataKey, "nouveau mot de passe ✓", user);
          const recovery = await pc.newRecovery(dataKey, user);
          window.made = made;
          const { contentKey, privateKey } = made.keys;
          return { material: made.material, code: made.recoveryCode, rewrap, recovery,
                   extractable: [contentKey.extractable, privateKey.extractable] };
        }""",
        [PASSPHRASE, crypto.MIN_ITERATIONS, USER],
    )
    material = material_from_json(made["material"])
    assert made["extractable"] == [False, False]
    assert material.iterations == crypto.MIN_ITERATIONS and len(material.salt) == 16
    unlocked = crypto.unlock(material, unicodedata.normalize("NFD", PASSPHRASE), USER)
    assert crypto.unlock_with_recovery(material, made["code"], USER).data_key == unlocked.data_key
    assert crypto.verifier(crypto.proof(unlocked.data_key)) == material.verifier
    assert crypto.public_point(unlocked.private_key.public_key()) == material.public_key
    with pytest.raises(PrivateCryptoError):
        crypto.unlock(material, PASSPHRASE, WORKSPACE)  # bound to its person

    # A new passphrase: the same data key, the old passphrase no longer opens it.
    rewrap = made["rewrap"]
    assert crypto.verifier(base64.b64decode(rewrap["proof"])) == material.verifier
    changed = material_from_json(
        {
            **made["material"],
            "kdf": rewrap["kdf"],
            "passphrase_wrapped": rewrap["passphrase_wrapped"],
        }
    )
    assert changed.salt != material.salt
    assert crypto.unlock(changed, "nouveau mot de passe ✓", USER).data_key == unlocked.data_key
    with pytest.raises(PrivateCryptoError):
        crypto.unlock(changed, PASSPHRASE, USER)

    # A new recovery key: the new code opens it, the old one does not.
    fields = made["recovery"]["fields"]
    assert crypto.verifier(base64.b64decode(fields["proof"])) == material.verifier
    recovered = material_from_json(
        {**made["material"], "recovery_wrapped": fields["recovery_wrapped"]}
    )
    new_code = made["recovery"]["recoveryCode"]
    assert crypto.unlock_with_recovery(recovered, new_code, USER).data_key == unlocked.data_key
    with pytest.raises(PrivateCryptoError):
        crypto.unlock_with_recovery(recovered, made["code"], USER)

    # The worker seals to the browser's public key; the browser's own keys open it, and
    # the browser's edits open in Python.
    sealed = crypto.seal(DOC, material.public_key, WORKSPACE, TRANSCRIPT)
    back = page.page.evaluate(
        """async ([sealed, ws, t]) => {
          const doc = await pc.openEnvelope(pc.fromBase64(sealed), made.keys, ws, t);
          doc.segments[0].text += " — édité";
          const edited = await pc.encryptDocument(doc, made.keys.contentKey, ws, t);
          const again = await pc.encryptDocument(doc, made.keys.contentKey, ws, t);
          return { doc, edited: pc.toBase64(edited), again: pc.toBase64(again) };
        }""",
        [b64(sealed), WORKSPACE, TRANSCRIPT],
    )
    edited = {**DOC, "segments": [dict(DOC["segments"][0]), *DOC["segments"][1:]]}
    edited["segments"][0]["text"] += " — édité"
    assert back["doc"] == edited
    assert back["edited"] != back["again"]  # a fresh IV per encryption
    envelope = base64.b64decode(back["edited"])
    assert (
        crypto.open_envelope(envelope, WORKSPACE, TRANSCRIPT, data_key=unlocked.data_key) == edited
    )
    assert page.problems == []
