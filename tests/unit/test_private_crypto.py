"""Private Transcript cryptography, the Python reference (app/private/crypto.py): keyrings,
envelopes, and that everything that is wrong, moved or tampered with fails as
PrivateCryptoError and nothing else. Pure Python: no app, no services."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.private import crypto
from app.private.crypto import PrivateCryptoError

USER = "6f1c2a4e-0000-4000-8000-000000000001"
WORKSPACE = "7a2b3c4d-0000-4000-8000-000000000002"
TRANSCRIPT = "8b3c4d5e-0000-4000-8000-000000000003"
PASSPHRASE = "Grüße aus Köln, 東京 🌧"  # NFC: ü, ö are single code points here
CANARY = "yellow zebra chocolate"

# Offsets inside a SEALED envelope: header (2), point (65), iv (12), ciphertext, tag (16).
POINT_AT = 2
IV_AT = POINT_AT + crypto.POINT_BYTES
BODY_AT = IV_AT + crypto.IV_BYTES


def _document(text: str = CANARY) -> dict[str, Any]:
    return {
        "v": 1,
        "language": "en",
        "duration": 12.5,
        "speakers": [{"label": "SPEAKER_00", "name": "Zoë"}, {"label": "SPEAKER_01", "name": "李"}],
        "segments": [
            {
                "start": 0.0,
                "end": 4.2,
                "text": text,
                "speaker": "SPEAKER_00",
                "words": [[w, i * 0.4, i * 0.4 + 0.3, 0.9] for i, w in enumerate(text.split())],
            },
            {
                "start": 4.5,
                "end": 9.0,
                "text": "Ça va? 你好 🎉 שלום עולם",
                "speaker": "SPEAKER_01",
                "words": [["Ça", 4.5, 4.8, None]],
            },
        ],
    }


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.fixture(scope="module")
def ring() -> tuple[crypto.KeyringMaterial, str, crypto.Unlocked]:
    return crypto.new_keyring(PASSPHRASE, USER, crypto.MIN_ITERATIONS)


@pytest.fixture(scope="module")
def sealed(ring: tuple[crypto.KeyringMaterial, str, crypto.Unlocked]) -> bytes:
    return crypto.seal(_document(), ring[0].public_key, WORKSPACE, TRANSCRIPT)


@pytest.fixture(scope="module")
def content(ring: tuple[crypto.KeyringMaterial, str, crypto.Unlocked]) -> bytes:
    return crypto.encrypt_content(_document(), ring[2].data_key, WORKSPACE, TRANSCRIPT)


# ---------------------------------------------------------------- keyrings


def test_keyring_unlocks_with_passphrase_and_recovery_code(ring):
    material, code, unlocked = ring
    assert material.version == crypto.VERSION
    assert material.iterations == crypto.MIN_ITERATIONS
    assert len(material.salt) == crypto.SALT_BYTES
    assert len(unlocked.data_key) == crypto.KEY_BYTES
    by_passphrase = crypto.unlock(material, PASSPHRASE, USER)
    assert by_passphrase.data_key == unlocked.data_key
    assert crypto.public_point(by_passphrase.private_key.public_key()) == material.public_key
    for messy in (
        code,
        code.lower(),
        code.replace("-", " "),
        code.replace("-", ""),
        f"  {code.lower().replace('-', ' ')}\n",
        code[:20].lower() + "\t" + code[20:],
    ):
        by_code = crypto.unlock_with_recovery(material, messy, USER)
        assert by_code.data_key == unlocked.data_key, messy
        assert crypto.public_point(by_code.private_key.public_key()) == material.public_key


def test_wrong_passphrase_recovery_code_or_user_is_refused(ring):
    material, code, _ = ring
    for wrong in ("", PASSPHRASE + " ", PASSPHRASE.upper(), "correct horse battery staple"):
        with pytest.raises(PrivateCryptoError, match="does not open"):
            crypto.unlock(material, wrong, USER)
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.unlock_with_recovery(material, crypto.recovery_code(os.urandom(32)), USER)
    # The keyring is bound to its person: copied to another account it does not open.
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.unlock(material, PASSPHRASE, USER.replace("1", "2"))
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.unlock_with_recovery(material, code, USER.replace("1", "2"))


@pytest.mark.parametrize(
    "code",
    [
        "",
        "ABCD",
        "A" * 51,
        "A" * 53,
        "A" * 51 + "1",  # 0, 1, 8 and 9 are not base32
        "A" * 51 + "0",
        "A" * 51 + "8",
        "A" * 51 + "É",
        "A" * 51 + "_",
    ],
)
def test_malformed_recovery_code_is_refused(ring, code):
    with pytest.raises(PrivateCryptoError, match="52 letters"):
        crypto.unlock_with_recovery(ring[0], code, USER)


def test_nfc_and_nfd_passphrases_give_the_same_key(ring):
    nfd = unicodedata.normalize("NFD", PASSPHRASE)
    assert nfd != PASSPHRASE
    salt = os.urandom(crypto.SALT_BYTES)
    assert crypto.passphrase_key(nfd, salt, crypto.MIN_ITERATIONS) == crypto.passphrase_key(
        PASSPHRASE, salt, crypto.MIN_ITERATIONS
    )
    assert crypto.unlock(ring[0], nfd, USER).data_key == ring[2].data_key
    # ...while a different salt gives a different key.
    other = crypto.passphrase_key(PASSPHRASE, os.urandom(crypto.SALT_BYTES), crypto.MIN_ITERATIONS)
    assert other != crypto.passphrase_key(PASSPHRASE, salt, crypto.MIN_ITERATIONS)


@pytest.mark.parametrize(
    "iterations", [0, 1, 100_000, crypto.MIN_ITERATIONS - 1, crypto.MAX_ITERATIONS + 1, 2**40]
)
def test_key_derivation_cost_out_of_range_is_refused(ring, iterations):
    salt = os.urandom(crypto.SALT_BYTES)
    with pytest.raises(PrivateCryptoError, match="Unsupported key derivation cost"):
        crypto.passphrase_key(PASSPHRASE, salt, iterations)
    # A server that lowers (or inflates) a stored cost gets a refusal, not a quick unlock.
    with pytest.raises(PrivateCryptoError, match="Unsupported key derivation cost"):
        crypto.unlock(dataclasses.replace(ring[0], iterations=iterations), PASSPHRASE, USER)
    with pytest.raises(PrivateCryptoError, match="Unsupported key derivation cost"):
        crypto.new_keyring(PASSPHRASE, USER, iterations)
    with pytest.raises(PrivateCryptoError, match="Unsupported key derivation cost"):
        crypto.rewrap_passphrase(ring[2].data_key, "new", USER, iterations)


def test_the_lowest_accepted_cost_is_the_minimum():
    salt = os.urandom(crypto.SALT_BYTES)
    assert len(crypto.passphrase_key("x", salt, crypto.MIN_ITERATIONS)) == crypto.KEY_BYTES
    assert crypto.MIN_ITERATIONS >= 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256


@pytest.mark.parametrize("length", [0, 8, 15, 17, 32])
def test_salt_length_is_checked(ring, length):
    with pytest.raises(PrivateCryptoError, match="salt must be 16 bytes"):
        crypto.passphrase_key(PASSPHRASE, os.urandom(length), crypto.MIN_ITERATIONS)
    with pytest.raises(PrivateCryptoError, match="salt must be 16 bytes"):
        crypto.unlock(dataclasses.replace(ring[0], salt=os.urandom(length)), PASSPHRASE, USER)


def test_keyring_purposes_are_not_interchangeable(ring):
    material, _, unlocked = ring
    key = crypto.passphrase_key(PASSPHRASE, material.salt, material.iterations)
    passphrase_aad = crypto.keyring_aad(USER, "passphrase")
    assert crypto.unwrap(key, material.passphrase_wrapped, passphrase_aad) == unlocked.data_key
    # The same key bytes presented as a recovery code, with the passphrase blob put where
    # the recovery blob goes: the purpose in the AAD tells them apart.
    swapped = dataclasses.replace(material, recovery_wrapped=material.passphrase_wrapped)
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.unlock_with_recovery(swapped, crypto.recovery_code(key), USER)
    for purpose in ("recovery", "private-key"):
        with pytest.raises(PrivateCryptoError, match="does not open"):
            crypto.unwrap(key, material.passphrase_wrapped, crypto.keyring_aad(USER, purpose))
    # The data key wraps the private key; it does not open a passphrase-purpose blob made
    # of that same ciphertext.
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.unwrap(
            unlocked.data_key, material.private_key_wrapped, crypto.keyring_aad(USER, "passphrase")
        )
    with pytest.raises(ValueError, match="unknown keyring purpose"):
        crypto.keyring_aad(USER, "transcript")


def test_aad_fields_are_separated():
    assert crypto.aad("ab", "c") != crypto.aad("a", "bc")
    assert crypto.aad("keyring", "u", "passphrase") != crypto.aad("keyring", "u", "recovery")
    header = bytes((crypto.VERSION, crypto.CONTENT))
    assert crypto.transcript_aad(header, "w", "t1") != crypto.transcript_aad(header, "w", "t2")
    assert crypto.transcript_aad(header, "w1", "t") != crypto.transcript_aad(header, "w2", "t")


@settings(max_examples=60, deadline=None)
@given(bit=st.integers(min_value=0))
def test_a_flipped_bit_in_a_keyring_blob_fails_cleanly(ring, bit):
    material, code, _ = ring
    blob = material.recovery_wrapped
    with pytest.raises(PrivateCryptoError):
        crypto.unlock_with_recovery(
            dataclasses.replace(material, recovery_wrapped=_flip(blob, bit % (len(blob) * 8))),
            code,
            USER,
        )
    blob = material.private_key_wrapped
    with pytest.raises(PrivateCryptoError):
        crypto.unlock_with_recovery(
            dataclasses.replace(material, private_key_wrapped=_flip(blob, bit % (len(blob) * 8))),
            code,
            USER,
        )


def test_flipped_bits_in_the_passphrase_blob_fail(ring):
    material = ring[0]
    blob = material.passphrase_wrapped
    # Each PBKDF2 costs ~0.1 s, so a few positions: IV, ciphertext, tag.
    for bit in (0, 95, 96 + 7, len(blob) * 8 - 1):
        tampered = dataclasses.replace(material, passphrase_wrapped=_flip(blob, bit))
        with pytest.raises(PrivateCryptoError, match="does not open"):
            crypto.unlock(tampered, PASSPHRASE, USER)
    with pytest.raises(PrivateCryptoError, match="too short"):
        crypto.unlock(dataclasses.replace(material, passphrase_wrapped=blob[:27]), PASSPHRASE, USER)


def test_proof_and_verifier(ring):
    material, code, unlocked = ring
    p = crypto.proof(unlocked.data_key)
    assert len(p) == 32 and p != unlocked.data_key
    assert crypto.proof(unlocked.data_key) == p  # deterministic: the server can compare
    assert crypto.verifier(p) == hashlib.sha256(p).digest() == material.verifier
    assert crypto.verifier(p) != p  # the server stores the hash, never the proof
    assert crypto.proof(crypto.unlock_with_recovery(material, code, USER).data_key) == p
    other = crypto.proof(os.urandom(32))
    assert other != p and crypto.verifier(other) != material.verifier


def test_rewrap_passphrase_keeps_the_data_key(ring, sealed):
    material, code, unlocked = ring
    new = "a whole new passphrase ✓"
    salt, iterations, wrapped = crypto.rewrap_passphrase(unlocked.data_key, new, USER)
    assert iterations == crypto.MIN_ITERATIONS and len(salt) == crypto.SALT_BYTES
    assert salt != material.salt and wrapped != material.passphrase_wrapped
    changed = dataclasses.replace(
        material, salt=salt, iterations=iterations, passphrase_wrapped=wrapped
    )
    reopened = crypto.unlock(changed, new, USER)
    assert reopened.data_key == unlocked.data_key
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.unlock(changed, PASSPHRASE, USER)
    assert crypto.unlock_with_recovery(changed, code, USER).data_key == unlocked.data_key
    # Transcripts sealed before the change still open: only the wrapped key changed.
    assert (
        crypto.open_envelope(sealed, WORKSPACE, TRANSCRIPT, private_key=reopened.private_key)
        == _document()
    )
    salt2, iterations2, _ = crypto.rewrap_passphrase(unlocked.data_key, new, USER, 1_000_000)
    assert iterations2 == 1_000_000 and salt2 != salt


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=32, max_size=32))
def test_recovery_code_round_trip(key):
    code = crypto.recovery_code(key)
    assert re.fullmatch(r"([A-Z2-7]{4}-){12}[A-Z2-7]{4}", code)
    assert crypto.parse_recovery_code(code) == key
    assert crypto.parse_recovery_code(f" {code.lower().replace('-', ' ')} \n") == key


def test_keyring_json_holds_no_secret(ring):
    material, code, unlocked = ring
    wire = material.to_json()
    assert set(wire) == {
        "version",
        "kdf",
        "passphrase_wrapped",
        "recovery_wrapped",
        "public_key",
        "private_key_wrapped",
        "verifier",
    }
    assert wire["kdf"] == {
        "name": crypto.KDF,
        "iterations": material.iterations,
        "salt": base64.b64encode(material.salt).decode(),
    }
    text = json.dumps(wire)
    recovery = crypto.parse_recovery_code(code)
    for secret in (PASSPHRASE, code, code.replace("-", "")):
        assert secret not in text
    blobs = b"".join(base64.b64decode(v) for k, v in wire.items() if k not in ("version", "kdf"))
    for secret in (unlocked.data_key, recovery, crypto.proof(unlocked.data_key)):
        assert secret not in blobs


# ---------------------------------------------------------------- envelopes


def test_sealed_round_trip(ring, sealed):
    assert crypto.check_envelope(sealed) == crypto.SEALED
    assert crypto.check_envelope(sealed, crypto.SEALED) == crypto.SEALED
    assert sealed[:2] == bytes((1, crypto.SEALED))
    assert sealed[POINT_AT] == 4  # an uncompressed ephemeral point
    assert sealed[POINT_AT:IV_AT] != ring[0].public_key
    doc = crypto.open_envelope(sealed, WORKSPACE, TRANSCRIPT, private_key=ring[2].private_key)
    assert doc == _document()


def test_content_round_trip(ring, content):
    assert crypto.check_envelope(content) == crypto.CONTENT
    assert crypto.check_envelope(content, crypto.CONTENT) == crypto.CONTENT
    assert content[:2] == bytes((1, crypto.CONTENT))
    doc = crypto.open_envelope(content, WORKSPACE, TRANSCRIPT, data_key=ring[2].data_key)
    assert doc == _document()


def test_opening_needs_the_right_key(ring, sealed, content):
    with pytest.raises(PrivateCryptoError, match="needs the data key"):
        crypto.open_envelope(content, WORKSPACE, TRANSCRIPT, private_key=ring[2].private_key)
    with pytest.raises(PrivateCryptoError, match="needs the private key"):
        crypto.open_envelope(sealed, WORKSPACE, TRANSCRIPT, data_key=ring[2].data_key)
    stranger = crypto.new_keyring("someone else", USER)[2]
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.open_envelope(sealed, WORKSPACE, TRANSCRIPT, private_key=stranger.private_key)
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.open_envelope(content, WORKSPACE, TRANSCRIPT, data_key=stranger.data_key)


def test_every_encryption_draws_a_fresh_iv(ring):
    material, _, unlocked = ring
    doc = _document()
    first, second = (crypto.seal(doc, material.public_key, WORKSPACE, TRANSCRIPT) for _ in "ab")
    assert first != second
    assert first[POINT_AT:IV_AT] != second[POINT_AT:IV_AT]
    assert first[IV_AT:BODY_AT] != second[IV_AT:BODY_AT]
    contents = [
        crypto.encrypt_content(doc, unlocked.data_key, WORKSPACE, TRANSCRIPT) for _ in range(500)
    ]
    ivs = {c[2 : 2 + crypto.IV_BYTES] for c in contents}
    assert len(ivs) == len(contents)
    assert len({c[2 + crypto.IV_BYTES :] for c in contents}) == len(contents)
    seals = [crypto.seal(doc, material.public_key, WORKSPACE, TRANSCRIPT) for _ in range(100)]
    assert len({s[IV_AT:BODY_AT] for s in seals}) == len(seals)
    assert len({s[POINT_AT:IV_AT] for s in seals}) == len(seals)
    keyring_ivs = {
        blob[: crypto.IV_BYTES]
        for blob in (
            material.passphrase_wrapped,
            material.recovery_wrapped,
            material.private_key_wrapped,
        )
    }
    assert len(keyring_ivs) == 3


def test_ciphertext_moved_elsewhere_does_not_open(ring, sealed, content):
    unlocked = ring[2]
    for workspace, transcript in (
        (WORKSPACE, TRANSCRIPT.replace("3", "4")),
        (WORKSPACE.replace("2", "5"), TRANSCRIPT),
        (TRANSCRIPT, WORKSPACE),
    ):
        with pytest.raises(PrivateCryptoError, match="does not open"):
            crypto.open_envelope(sealed, workspace, transcript, private_key=unlocked.private_key)
        with pytest.raises(PrivateCryptoError, match="does not open"):
            crypto.open_envelope(content, workspace, transcript, data_key=unlocked.data_key)


def test_ciphertext_for_another_field_does_not_open(ring):
    data_key = ring[2].data_key
    header = bytes((crypto.VERSION, crypto.CONTENT))
    packed = gzip.compress(json.dumps(_document()).encode())

    def envelope(field: str) -> bytes:
        aad = crypto.transcript_aad(header, WORKSPACE, TRANSCRIPT, field)
        return header + crypto.wrap(data_key, packed, aad)

    # Built by hand the same way, the transcript field opens and another field does not.
    opened = crypto.open_envelope(
        envelope(crypto.TRANSCRIPT_FIELD), WORKSPACE, TRANSCRIPT, data_key=data_key
    )
    assert opened == _document()
    with pytest.raises(PrivateCryptoError, match="does not open"):
        crypto.open_envelope(envelope("notes"), WORKSPACE, TRANSCRIPT, data_key=data_key)


def test_header_kind_swapped_does_not_open(ring, content):
    unlocked = ring[2]
    # A SEALED envelope relabelled CONTENT is opened with the data key: the header is in
    # the AAD, so it fails (it could not decrypt anyway, but must fail cleanly).
    sealed = crypto.seal(_document(), ring[0].public_key, WORKSPACE, TRANSCRIPT)
    relabelled = bytes((crypto.VERSION, crypto.CONTENT)) + sealed[2:]
    with pytest.raises(PrivateCryptoError):
        crypto.open_envelope(relabelled, WORKSPACE, TRANSCRIPT, data_key=unlocked.data_key)
    relabelled = bytes((crypto.VERSION, crypto.SEALED)) + content[2:]
    with pytest.raises(PrivateCryptoError):
        crypto.open_envelope(relabelled, WORKSPACE, TRANSCRIPT, private_key=unlocked.private_key)


@settings(max_examples=300, deadline=None)
@given(bit=st.integers(min_value=0, max_value=10**9))
@example(bit=0)  # version
@example(bit=8 + 1)  # kind
@example(bit=POINT_AT * 8)  # the point's 0x04 prefix
@example(bit=(POINT_AT + 30) * 8 + 3)  # the point's x
@example(bit=(POINT_AT + 60) * 8 + 5)  # the point's y
@example(bit=IV_AT * 8 + 4)  # iv
@example(bit=(BODY_AT + 3) * 8)  # ciphertext
@example(bit=-1)  # the tag's last bit
def test_a_flipped_bit_in_a_sealed_envelope_fails_cleanly(ring, sealed, bit):
    tampered = _flip(sealed, bit % (len(sealed) * 8))
    with pytest.raises(PrivateCryptoError):
        crypto.open_envelope(tampered, WORKSPACE, TRANSCRIPT, private_key=ring[2].private_key)


@settings(max_examples=300, deadline=None)
@given(bit=st.integers(min_value=0, max_value=10**9))
@example(bit=0)
@example(bit=8)
@example(bit=2 * 8 + 6)  # iv
@example(bit=-1)  # tag
def test_a_flipped_bit_in_a_content_envelope_fails_cleanly(ring, content, bit):
    tampered = _flip(content, bit % (len(content) * 8))
    with pytest.raises(PrivateCryptoError):
        crypto.open_envelope(tampered, WORKSPACE, TRANSCRIPT, data_key=ring[2].data_key)


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10**9))
def test_a_truncated_envelope_fails_cleanly(ring, sealed, content, cut):
    with pytest.raises(PrivateCryptoError):
        crypto.open_envelope(
            sealed[: cut % len(sealed)], WORKSPACE, TRANSCRIPT, private_key=ring[2].private_key
        )
    with pytest.raises(PrivateCryptoError):
        crypto.open_envelope(
            content[: cut % len(content)], WORKSPACE, TRANSCRIPT, data_key=ring[2].data_key
        )


def test_check_envelope_rejects_truncated_envelopes(sealed, content):
    sealed_least = 2 + crypto.POINT_BYTES + crypto.IV_BYTES + crypto.TAG_BYTES
    content_least = 2 + crypto.IV_BYTES + crypto.TAG_BYTES
    for envelope, least in ((sealed, sealed_least), (content, content_least)):
        for cut in (0, 1):
            with pytest.raises(PrivateCryptoError, match="Not an encrypted transcript"):
                crypto.check_envelope(envelope[:cut])
        for cut in (2, 3, least // 2, least - 1):
            with pytest.raises(PrivateCryptoError, match="truncated"):
                crypto.check_envelope(envelope[:cut])
        assert crypto.check_envelope(envelope[:least]) == envelope[1]  # shape only


def test_check_envelope_wants_the_expected_kind(sealed, content):
    with pytest.raises(PrivateCryptoError, match="wrong kind"):
        crypto.check_envelope(sealed, crypto.CONTENT)
    with pytest.raises(PrivateCryptoError, match="wrong kind"):
        crypto.check_envelope(content, crypto.SEALED)
    for kind in (0, 3, 255):
        with pytest.raises(PrivateCryptoError, match="Unknown kind"):
            crypto.check_envelope(bytes((crypto.VERSION, kind)) + content[2:])


@pytest.mark.parametrize("version", [0, 2, 255])
def test_another_format_version_is_unsupported(ring, sealed, content, version):
    for envelope in (sealed, content):
        future = bytes((version,)) + envelope[1:]
        with pytest.raises(
            PrivateCryptoError, match=f"Unsupported encryption format version {version}"
        ):
            crypto.check_envelope(future)
        with pytest.raises(PrivateCryptoError, match="Unsupported"):
            crypto.open_envelope(
                future,
                WORKSPACE,
                TRANSCRIPT,
                data_key=ring[2].data_key,
                private_key=ring[2].private_key,
            )


def test_the_plaintext_never_appears_in_an_envelope(ring):
    text = " ".join([CANARY] * 200)
    doc = _document(text)
    envelopes = [
        crypto.seal(doc, ring[0].public_key, WORKSPACE, TRANSCRIPT),
        crypto.encrypt_content(doc, ring[2].data_key, WORKSPACE, TRANSCRIPT),
    ]
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    packed = gzip.compress(raw, compresslevel=6, mtime=0)
    for envelope in envelopes:
        for needle in (CANARY.encode(), CANARY.encode("utf-16-le"), b"zebra", "Zoë".encode()):
            assert needle not in envelope
        assert CANARY not in base64.b64encode(envelope).decode()
        # Not merely compressed: no 12-byte run of the gzip stream shows through.
        assert not any(packed[i : i + 12] in envelope for i in range(0, len(packed) - 12, 6))
        # Compression happened before encryption: a highly repetitive text stays small.
        assert len(envelope) < len(raw) // 4
