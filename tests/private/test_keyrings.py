"""A person's Private Transcript keyring through the web: turn it on, replace wrapped keys with
the proof, private by default, reset.

Payloads are built with the Python reference (app/private/crypto.py), exactly as the browser
builds them with crypto.js; the two are cross-checked in tests/unit/test_private_crypto.py.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.private import crypto
from app.private.models import PrivateKeyring
from tests.integration.test_google_oidc import google_flow, google_identity, load_user, oidc
from tests.integration.test_workspaces import database
from tests.private.support import (
    CANARY,
    PASSPHRASE,
    Keys,
    document,
    make_keyring,
    make_private_transcript,
    stored_envelope,
)
from tests.transcripts import Team, make_team
from tests.web import Web, make_user

__all__ = ["oidc"]  # the fixture, used by the Google test below

KEYRING = "/account/private/keyring"
KEYS = "/account/private/keys"
DEFAULT = "/account/private/default"
RESET = "/account/private/reset"
NEW_PASSPHRASE = "a completely different passphrase"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def iterations(app: Flask) -> int:
    return app.extensions["verbatim.settings"].private_kdf_iterations


def new_payload(app: Flask, user_id: uuid.UUID) -> tuple[dict[str, Any], str, crypto.Unlocked]:
    material, code, unlocked = crypto.new_keyring(PASSPHRASE, str(user_id), iterations(app))
    return material.to_json(), code, unlocked


def material_of(body: dict[str, Any]) -> crypto.KeyringMaterial:
    """The KeyringMaterial in a GET /account/private/keyring answer."""
    return crypto.KeyringMaterial(
        version=body["version"],
        iterations=body["kdf"]["iterations"],
        salt=base64.b64decode(body["kdf"]["salt"]),
        passphrase_wrapped=base64.b64decode(body["passphrase_wrapped"]),
        recovery_wrapped=base64.b64decode(body["recovery_wrapped"]),
        public_key=base64.b64decode(body["public_key"]),
        private_key_wrapped=base64.b64decode(body["private_key_wrapped"]),
        verifier=base64.b64decode(body["verifier"]),
    )


def stored(app: Flask, user_id: uuid.UUID) -> PrivateKeyring | None:
    with database(app) as s:
        return s.get(PrivateKeyring, user_id)


def snapshot(app: Flask, user_id: uuid.UUID) -> dict[str, Any] | None:
    row = stored(app, user_id)
    if row is None:
        return None
    return {c.key: getattr(row, c.key) for c in PrivateKeyring.__table__.columns}


def post_json(web: Web, url: str, body: Any) -> Any:
    return web.send("POST", url, json=body)


def events(app: Flask, user_id: uuid.UUID) -> list[AuditEvent]:
    with database(app) as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.actor_user_id == user_id, AuditEvent.action.like("private.%"))
                .order_by(AuditEvent.created_at)
            )
        )


def signed_in(app: Flask, web: Web) -> uuid.UUID:
    user = make_user(app, name="Priya Private")
    web.login(user)
    return user.id


def rewrap_body(keys: Keys, passphrase: str, app: Flask, **extra: Any) -> dict[str, Any]:
    salt, cost, wrapped = crypto.rewrap_passphrase(
        keys.unlocked.data_key, passphrase, str(keys.user_id), iterations(app)
    )
    return {
        "proof": b64(crypto.proof(keys.unlocked.data_key)),
        "kdf": {"name": crypto.KDF, "iterations": cost, "salt": b64(salt)},
        "passphrase_wrapped": b64(wrapped),
        **extra,
    }


# ------------------------------------------------------------------ turning it on


def test_turn_on_read_back_and_no_second_keyring(app: Flask, web: Web) -> None:
    uid = signed_in(app, web)
    missing = web.get(KEYRING)
    assert missing.status_code == 404
    assert missing.get_json() == {
        "error": "Private Transcript is not turned on for your account.",
        "iterations": iterations(app),
    }
    assert "Turn on Private Transcript" in web.get("/account/private").get_data(as_text=True)

    payload, code, unlocked = new_payload(app, uid)
    created = post_json(web, KEYRING, payload | {"private_by_default": True})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = web.get(KEYRING).get_json()
    assert body == created.get_json()
    assert {k: body[k] for k in payload} == payload  # the material, byte for byte
    assert body["user_id"] == str(uid)
    assert body["private_by_default"] is True
    assert body["iterations"] == iterations(app)
    material = material_of(body)
    assert body["fingerprint"] == crypto.fingerprint(material.public_key)
    # What the server hands back opens with the passphrase and with the recovery key.
    assert crypto.unlock(material, PASSPHRASE, str(uid)).data_key == unlocked.data_key
    assert crypto.unlock_with_recovery(material, code, str(uid)).data_key == unlocked.data_key
    row = stored(app, uid)
    assert row is not None and row.kdf_iterations == iterations(app)
    assert row.passphrase_changed_at is None and row.recovery_changed_at is None

    # Only one keyring per person: a second one is refused and changes nothing.
    before = snapshot(app, uid)
    again, _, _ = new_payload(app, uid)
    second = post_json(web, KEYRING, again)
    assert second.status_code == 409
    assert "already on" in second.get_json()["error"]
    assert snapshot(app, uid) == before

    page = web.get("/account/private").get_data(as_text=True)
    assert "Private Transcript is on" in page and row.fingerprint[:16] in page
    assert "cannot be recovered by anyone, including us" in page
    account = web.get("/account").get_data(as_text=True)
    assert "Manage Private Transcript" in account

    [enabled] = events(app, uid)
    assert enabled.action == "private.enabled"
    logged = json.dumps(enabled.details)
    for secret in (payload["passphrase_wrapped"], payload["recovery_wrapped"], payload["verifier"]):
        assert secret not in logged
    assert payload["private_key_wrapped"] not in logged and code not in logged


@pytest.fixture(scope="module")
def good(app: Flask) -> dict[str, Any]:
    """A valid payload to spoil one field at a time (its user does not matter: the server
    cannot check the AAD, only the shape)."""
    return new_payload(app, uuid.uuid4())[0]


def _with(**changes: Any) -> Callable[[dict[str, Any]], Any]:
    def spoil(body: dict[str, Any]) -> Any:
        out = json.loads(json.dumps(body))
        for key, value in changes.items():
            if value is _DROP:
                out.pop(key)
            else:
                out[key] = value
        return out

    return spoil


def _kdf(**changes: Any) -> Callable[[dict[str, Any]], Any]:
    def spoil(body: dict[str, Any]) -> Any:
        out = json.loads(json.dumps(body))
        for key, value in changes.items():
            if value is _DROP:
                out["kdf"].pop(key)
            else:
                out["kdf"][key] = value
        return out

    return spoil


_DROP = object()
_OFF_CURVE = b"\x04" + b"\x01" * 64
_COMPRESSED_LIKE = b"\x02" + os.urandom(64)

BAD: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "not an object": (lambda body: [body], "JSON object"),
    "unknown field": (_with(passphrase="oops"), "Unknown field"),
    "version 2": (_with(version=2), "version"),
    "version as text": (_with(version="1"), "version"),
    "version true": (_with(version=True), "version"),
    "no kdf": (_with(kdf=_DROP), "kdf"),
    "kdf not an object": (_with(kdf="PBKDF2-SHA256"), "kdf"),
    "another kdf": (_kdf(name="scrypt"), "kdf.name"),
    "unknown kdf field": (_kdf(memory=65536), "kdf field"),
    "too few iterations": (_kdf(iterations=crypto.MIN_ITERATIONS), "kdf.iterations"),
    "too many iterations": (_kdf(iterations=crypto.MAX_ITERATIONS + 1), "kdf.iterations"),
    "iterations as text": (_kdf(iterations="1000000"), "kdf.iterations"),
    "iterations as float": (_kdf(iterations=1_000_000.5), "kdf.iterations"),
    "short salt": (_kdf(salt=b64(os.urandom(15))), "salt"),
    "salt not base64": (_kdf(salt="not base64!!"), "salt"),
    "no passphrase_wrapped": (_with(passphrase_wrapped=_DROP), "passphrase_wrapped"),
    "passphrase_wrapped short": (_with(passphrase_wrapped=b64(os.urandom(59))), "60 bytes"),
    "passphrase_wrapped a number": (_with(passphrase_wrapped=60), "passphrase_wrapped"),
    "recovery_wrapped long": (_with(recovery_wrapped=b64(os.urandom(61))), "recovery_wrapped"),
    "recovery_wrapped empty": (_with(recovery_wrapped=""), "recovery_wrapped"),
    "public_key short": (_with(public_key=b64(os.urandom(64))), "public_key"),
    "public_key off the curve": (_with(public_key=b64(_OFF_CURVE)), "not a point on P-256"),
    "public_key not uncompressed": (_with(public_key=b64(_COMPRESSED_LIKE)), "uncompressed"),
    "private_key_wrapped tiny": (_with(private_key_wrapped=b64(os.urandom(40))), "private_key"),
    "private_key_wrapped huge": (_with(private_key_wrapped=b64(os.urandom(4000))), "private_key"),
    "no verifier": (_with(verifier=_DROP), "verifier"),
    "verifier short": (_with(verifier=b64(os.urandom(31))), "verifier"),
    "default not a boolean": (_with(private_by_default="yes"), "private_by_default"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_bad_field_is_refused_and_nothing_stored(
    app: Flask, web: Web, good: dict[str, Any], case: str
) -> None:
    uid = signed_in(app, web)
    spoil, says = BAD[case]
    resp = post_json(web, KEYRING, spoil(good))
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert says in resp.get_json()["error"]
    assert stored(app, uid) is None
    assert events(app, uid) == []


def test_a_body_that_is_not_json_is_refused(app: Flask, web: Web) -> None:
    uid = signed_in(app, web)
    form = web.post(KEYRING, {"version": "1"}, headers={"Accept": "application/json"})
    assert form.status_code == 400
    assert form.get_json() == {"error": "Send a JSON object."}
    broken = web.send(
        "POST", KEYRING, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and "JSON object" in broken.get_json()["error"]
    # Without the CSRF token: refused as JSON, nothing stored.
    no_csrf = web.client.post(
        KEYRING,
        json=new_payload(app, uid)[0],
        base_url="https://localhost",
        headers={"Referer": "https://localhost/"},
    )
    assert no_csrf.status_code == 400 and "expired" in no_csrf.get_json()["error"]
    assert stored(app, uid) is None


# ------------------------------------------------------------------ replacing wrapped keys


def test_a_wrong_proof_changes_nothing(app: Flask, web: Web) -> None:
    uid = signed_in(app, web)
    assert post_json(web, KEYS, {"proof": b64(os.urandom(32))}).status_code == 404
    keys = make_keyring(app, uid)
    before = snapshot(app, uid)

    forged = rewrap_body(keys, NEW_PASSPHRASE, app) | {"proof": b64(os.urandom(32))}
    resp = post_json(web, KEYS, forged)
    assert resp.status_code == 403
    assert "does not prove" in resp.get_json()["error"]
    # The verifier itself is not the proof (it is what the server stores and sends).
    as_verifier = forged | {"proof": b64(keys.material.verifier)}
    assert post_json(web, KEYS, as_verifier).status_code == 403
    recovery = {
        "proof": b64(os.urandom(32)),
        "recovery_wrapped": b64(os.urandom(crypto.IV_BYTES + 32 + crypto.TAG_BYTES)),
    }
    assert post_json(web, KEYS, recovery).status_code == 403

    right = rewrap_body(keys, NEW_PASSPHRASE, app)
    shapes = {
        "nothing to replace": {"proof": right["proof"]},
        "kdf without the wrap": {"proof": right["proof"], "kdf": right["kdf"]},
        "wrap without the kdf": {
            "proof": right["proof"],
            "passphrase_wrapped": right["passphrase_wrapped"],
        },
        "no proof": {k: v for k, v in right.items() if k != "proof"},
        "short proof": right | {"proof": b64(os.urandom(31))},
        "cheap kdf": right | {"kdf": right["kdf"] | {"iterations": crypto.MIN_ITERATIONS}},
        "short wrap": right | {"passphrase_wrapped": b64(os.urandom(20))},
        "unknown via": right | {"via": "magic"},
        "unknown field": right | {"verifier": b64(os.urandom(32))},
    }
    for name, body in shapes.items():
        bad = post_json(web, KEYS, body)
        assert bad.status_code == 400, name
        assert bad.get_json()["error"], name
    assert snapshot(app, uid) == before
    assert crypto.unlock(material_of(web.get(KEYRING).get_json()), PASSPHRASE, str(uid))
    assert events(app, uid) == []


def test_wrong_proofs_are_rate_limited(app: Flask, web: Web) -> None:
    uid = signed_in(app, web)
    keys = make_keyring(app, uid)
    limit = int(app.extensions["verbatim.settings"].ratelimit_login.split()[0])
    forged = rewrap_body(keys, NEW_PASSPHRASE, app) | {"proof": b64(os.urandom(32))}
    for _ in range(limit):
        assert post_json(web, KEYS, forged).status_code == 403
    limited = post_json(web, KEYS, rewrap_body(keys, NEW_PASSPHRASE, app))
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_json()["error"]
    assert limited.headers.get("Retry-After")
    # Per person too: the same account from another address is held back as well.
    elsewhere = Web(app, remote_addr="10.250.1.1")
    elsewhere.client.set_cookie(
        "verbatim_session",
        web.client.get_cookie("verbatim_session", domain="localhost").value,  # type: ignore[union-attr]
        domain="localhost",
    )
    elsewhere.user = web.user
    assert post_json(elsewhere, KEYS, rewrap_body(keys, NEW_PASSPHRASE, app)).status_code == 429
    assert crypto.unlock(material_of(web.get(KEYRING).get_json()), PASSPHRASE, str(uid))


def test_change_passphrase_keeps_every_transcript_open(app: Flask, web: Web) -> None:
    team: Team = make_team(app, web, "Private Team")
    uid = team.user.id
    keys = make_keyring(app, uid)
    docs = [
        document([(0.0, 2.0, f"{CANARY} one", "SPEAKER_00")], {"SPEAKER_00": "Ada"}),
        document([(0.0, 3.0, f"second {CANARY}", None)]),
    ]
    tids = [make_private_transcript(app, team.workspace.id, keys, d) for d in docs]

    resp = post_json(web, KEYS, rewrap_body(keys, NEW_PASSPHRASE, app))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    material = material_of(resp.get_json())
    assert material_of(web.get(KEYRING).get_json()) == material
    assert material.iterations == iterations(app)  # raised from the old keyring's cost
    with pytest.raises(crypto.PrivateCryptoError):
        crypto.unlock(material, PASSPHRASE, str(uid))
    opened = crypto.unlock(material, NEW_PASSPHRASE, str(uid))
    assert opened.data_key == keys.unlocked.data_key
    # Nothing else changed: the key pair, the recovery key and every transcript.
    assert material.public_key == keys.material.public_key
    assert material.private_key_wrapped == keys.material.private_key_wrapped
    assert crypto.unlock_with_recovery(material, keys.recovery_code, str(uid)).data_key == (
        keys.unlocked.data_key
    )
    for tid, doc in zip(tids, docs, strict=True):
        envelope = stored_envelope(app, team.workspace.id, tid)
        got = crypto.open_envelope(
            envelope, str(team.workspace.id), str(tid), private_key=opened.private_key
        )
        assert got == doc
    row = stored(app, uid)
    assert row is not None and row.passphrase_changed_at is not None
    assert row.recovery_changed_at is None

    # Forgot it: the recovery key sets another one.
    recovered = crypto.unlock_with_recovery(material, keys.recovery_code, str(uid))
    third = "third passphrase, from the recovery key"
    salt, cost, wrapped = crypto.rewrap_passphrase(
        recovered.data_key, third, str(uid), iterations(app)
    )
    body = {
        "proof": b64(crypto.proof(recovered.data_key)),
        "kdf": {"name": crypto.KDF, "iterations": cost, "salt": b64(salt)},
        "passphrase_wrapped": b64(wrapped),
        "via": "recovery",
    }
    assert post_json(web, KEYS, body).status_code == 200
    latest = material_of(web.get(KEYRING).get_json())
    assert crypto.unlock(latest, third, str(uid)).data_key == keys.unlocked.data_key
    with pytest.raises(crypto.PrivateCryptoError):
        crypto.unlock(latest, NEW_PASSPHRASE, str(uid))
    assert [(e.action, e.details.get("via")) for e in events(app, uid)] == [
        ("private.passphrase_changed", "passphrase"),
        ("private.passphrase_changed", "recovery"),
    ]


def test_new_recovery_key_replaces_the_old_one(app: Flask, web: Web) -> None:
    uid = signed_in(app, web)
    keys = make_keyring(app, uid)
    new_recovery = os.urandom(crypto.KEY_BYTES)
    body = {
        "proof": b64(crypto.proof(keys.unlocked.data_key)),
        "recovery_wrapped": b64(
            crypto.wrap(
                new_recovery,
                keys.unlocked.data_key,
                crypto.keyring_aad(str(uid), "recovery"),
            )
        ),
    }
    resp = post_json(web, KEYS, body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    material = material_of(web.get(KEYRING).get_json())
    code = crypto.recovery_code(new_recovery)
    assert crypto.unlock_with_recovery(material, code, str(uid)).data_key == (
        keys.unlocked.data_key
    )
    with pytest.raises(crypto.PrivateCryptoError):
        crypto.unlock_with_recovery(material, keys.recovery_code, str(uid))
    assert crypto.unlock(material, PASSPHRASE, str(uid)).data_key == keys.unlocked.data_key
    assert material.salt == keys.material.salt  # the passphrase wrap was left alone
    row = stored(app, uid)
    assert row is not None and row.recovery_changed_at is not None
    assert row.passphrase_changed_at is None
    [event] = events(app, uid)
    assert event.action == "private.recovery_key_replaced"
    assert body["recovery_wrapped"] not in json.dumps(event.details)


# ------------------------------------------------------------------ default and reset


def test_private_by_default(app: Flask, web: Web) -> None:
    uid = signed_in(app, web)
    no_keyring = post_json(web, DEFAULT, {"private_by_default": True})
    assert no_keyring.status_code == 404 and "not turned on" in no_keyring.get_json()["error"]
    make_keyring(app, uid)

    on = post_json(web, DEFAULT, {"private_by_default": True})
    assert on.status_code == 200 and on.get_json() == {"private_by_default": True}
    assert stored(app, uid).private_by_default is True  # type: ignore[union-attr]
    assert web.get(KEYRING).get_json()["private_by_default"] is True
    for bad in ({"private_by_default": "yes"}, {}, {"private_by_default": None}):
        refused = post_json(web, DEFAULT, bad)
        assert refused.status_code == 400, bad
        assert stored(app, uid).private_by_default is True  # type: ignore[union-attr]

    # The page's plain form: an unticked box sends nothing, which means off.
    off = web.post(DEFAULT, {})
    assert off.status_code == 302 and off.headers["Location"] == "/account/private"
    assert stored(app, uid).private_by_default is False  # type: ignore[union-attr]
    assert "not private unless" in web.get("/account/private").get_data(as_text=True)
    assert web.post(DEFAULT, {"private_by_default": "1"}).status_code == 302
    assert stored(app, uid).private_by_default is True  # type: ignore[union-attr]
    assert [e.details for e in events(app, uid)] == [
        {"private_by_default": True},
        {"private_by_default": False},
        {"private_by_default": True},
    ]


def test_reset_forgets_the_keyring_and_says_what_is_lost(app: Flask, web: Web) -> None:
    team = make_team(app, web, "Reset Team")
    uid = team.user.id
    keys = make_keyring(app, uid)
    tid = make_private_transcript(app, team.workspace.id, keys, document([(0, 1, CANARY, None)]))
    page = web.get("/account/private").get_data(as_text=True)
    assert "can no longer be opened by anyone" in page and "(1)" in page

    wrong = web.post(RESET, {"confirm": "reset"})
    assert wrong.status_code == 302
    assert "Type RESET" in web.get("/account/private").get_data(as_text=True)
    refused = post_json(web, RESET, {"confirm": "yes"})
    assert refused.status_code == 400 and "Type RESET" in refused.get_json()["error"]
    assert stored(app, uid) is not None

    done = web.post(RESET, {"confirm": "RESET"})
    assert done.status_code == 302 and done.headers["Location"] == "/account/private"
    assert "was reset" in web.get("/account/private").get_data(as_text=True)
    assert stored(app, uid) is None
    assert web.get(KEYRING).status_code == 404
    # The ciphertext stays, unreadable; a new keyring can be made.
    assert stored_envelope(app, team.workspace.id, tid)
    assert post_json(web, RESET, {"confirm": "RESET"}).status_code == 404
    assert post_json(web, KEYRING, new_payload(app, uid)[0]).status_code == 201
    assert [e.action for e in events(app, uid)] == ["private.reset", "private.enabled"]
    old_fingerprint = crypto.fingerprint(keys.material.public_key)
    assert events(app, uid)[0].details == {"fingerprint": old_fingerprint}


# ------------------------------------------------------------------ whose keyring


def test_another_users_keyring_is_never_reachable(app: Flask, web: Web, web2: Web) -> None:
    alice = signed_in(app, web)
    alice_keys = make_keyring(app, alice)
    alice_before = snapshot(app, alice)
    bob = signed_in(app, web2)

    assert web2.get(KEYRING).status_code == 404
    # Alice's real proof, sent by Bob: Bob has no keyring, and Alice's is untouched.
    stolen = rewrap_body(alice_keys, NEW_PASSPHRASE, app)
    assert post_json(web2, KEYS, stolen).status_code == 404
    assert post_json(web2, DEFAULT, {"private_by_default": True}).status_code == 404
    assert post_json(web2, RESET, {"confirm": "RESET"}).status_code == 404
    bob_payload, _, _ = new_payload(app, bob)
    assert post_json(web2, KEYRING, bob_payload).status_code == 201
    assert post_json(web2, KEYS, stolen).status_code == 403
    mine = web2.get(KEYRING).get_json()
    assert mine["user_id"] == str(bob)
    assert mine["public_key"] == bob_payload["public_key"]
    page = web2.get("/account/private").get_data(as_text=True)
    assert alice_keys.material.public_key.hex()[:16] not in page
    assert crypto.fingerprint(alice_keys.material.public_key)[:16] not in page
    assert post_json(web2, RESET, {"confirm": "RESET"}).status_code == 200
    assert snapshot(app, alice) == alice_before
    assert web.get(KEYRING).get_json()["user_id"] == str(alice)


def test_a_google_only_account_can_turn_it_on(app: Flask, web: Web, oidc) -> None:  # type: ignore[no-untyped-def]
    identity = google_identity(name="Grace Google")
    assert google_flow(web, oidc, identity).status_code == 302
    user = load_user(app, identity.email)
    assert user.password_hash is None  # nothing to derive a key from but the passphrase
    web.user = user
    page = web.get("/account/private").get_data(as_text=True)
    assert "works the same whether you sign in with" in page
    payload, code, _ = new_payload(app, user.id)
    assert post_json(web, KEYRING, payload).status_code == 201
    material = material_of(web.get(KEYRING).get_json())
    assert crypto.unlock(material, PASSPHRASE, str(user.id))
    assert crypto.unlock_with_recovery(material, code, str(user.id))
