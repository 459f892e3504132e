"""A small but real OpenID Connect provider on 127.0.0.1, for exercising Google sign-in.

It speaks the documented wire format (OpenID Connect Core 1.0 and Discovery 1.0, RFC 6749,
RFC 7636): a discovery document, an authorization endpoint that auto-approves as the
identity a test chose, a token endpoint that authenticates the client and spends each code
once, RS256-signed ID tokens, a JWKS and a userinfo endpoint. A test can ask it to
misbehave (see Fault) to prove the relying party refuses what it must.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

SIGNING_KID = "verbatim-test-key-1"


class Fault(enum.StrEnum):
    """Ways the provider can be told to misbehave (each lasts until reset())."""

    WRONG_NONCE = "wrong_nonce"  # ID token carries a nonce the client never sent
    WRONG_AUDIENCE = "wrong_audience"  # ID token issued to another client
    WRONG_ISSUER = "wrong_issuer"  # ID token from an issuer other than the discovery one
    EXPIRED = "expired"  # ID token expired long ago (beyond any clock leeway)
    BAD_SIGNATURE = "bad_signature"  # signed by a key that is not in the JWKS
    UNSIGNED = "unsigned"  # alg "none"
    NO_ID_TOKEN = "no_id_token"  # plain OAuth answer, no ID token at all
    TOKEN_HANGUP = "token_hangup"  # token endpoint drops the connection
    TOKEN_UNAVAILABLE = "token_unavailable"  # token endpoint answers 503 with an HTML page


@dataclass
class Identity:
    """The end user who "signs in" at the provider."""

    sub: str
    email: str
    email_verified: bool | str = True  # a string only to mimic providers that send one
    name: str = ""

    def claims(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
        }


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    identity: Identity
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float = field(default_factory=time.time)
    used: bool = False


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return _b64url(digest[: len(digest) // 2])


class OIDCProvider:
    CODE_TTL_SECONDS = 60

    def __init__(
        self,
        client_id: str = "verbatim-test-client",
        client_secret: str | None = None,
        redirect_uris: set[str] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.redirect_uris: set[str] = set(redirect_uris or ())
        self.key = RSAKey.generate_key(2048, parameters={"kid": SIGNING_KID, "use": "sig"})
        # Same kid as the real key, so the client cannot tell them apart before verifying.
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": SIGNING_KID, "use": "sig"})
        self.lock = threading.Lock()
        self.identity: Identity | None = None
        self.faults: set[Fault] = set()
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self._grants: dict[str, _Grant] = {}
        self._access_tokens: dict[str, Identity] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle and test controls --------------------------------------------------

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def metadata_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    @property
    def authorization_endpoint(self) -> str:
        return self.issuer + "/authorize"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever, so only if it ran
            self._server.shutdown()
        self._server.server_close()

    def sign_in_as(self, identity: Identity | None) -> None:
        """The account the provider approves at /authorize; None makes the user cancel."""
        with self.lock:
            self.identity = identity

    def misbehave(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.update(faults)

    def reset(self) -> None:
        with self.lock:
            self.identity = None
            self.faults.clear()
            self.authorize_requests.clear()
            self.token_requests.clear()

    def has(self, fault: Fault) -> bool:
        with self.lock:
            return fault in self.faults

    # -- endpoints --------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "name"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "grant_types_supported": ["authorization_code"],
        }

    def jwks(self) -> dict[str, Any]:
        return KeySet([self.key]).as_dict(private=False)

    def authorize(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """Returns (status, headers, body). Errors about the client itself are shown to the
        user, never redirected (RFC 6749 section 4.1.2.1)."""
        with self.lock:
            self.authorize_requests.append(dict(params))
            identity = self.identity
        if params.get("client_id") != self.client_id:
            return 400, {}, "unknown client_id"
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return 400, {}, "redirect_uri is not registered for this client"

        def back(**answer: str) -> tuple[int, dict[str, str], str]:
            if params.get("state"):
                answer["state"] = params["state"]
            sep = "&" if urlsplit(redirect_uri).query else "?"
            return 302, {"Location": redirect_uri + sep + urlencode(answer)}, ""

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "openid" not in params.get("scope", "").split():
            return back(error="invalid_scope", error_description="scope must include openid")
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and (method or "plain") not in ("S256", "plain"):
            return back(error="invalid_request", error_description="unknown challenge method")
        if identity is None:
            return back(error="access_denied", error_description="The user cancelled.")
        code = secrets.token_urlsafe(24)
        with self.lock:
            self._grants[code] = _Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                nonce=params.get("nonce"),
                identity=identity,
                code_challenge=params.get("code_challenge"),
                code_challenge_method=method or ("plain" if params.get("code_challenge") else None),
            )
        return back(code=code)

    def _client_authenticated(self, headers: Any, form: dict[str, str]) -> str | None:
        """The client authentication method used, or None when it failed."""
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic ") and "client_secret" not in form:
            try:
                raw = base64.b64decode(auth[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, _, secret = raw.partition(":")
            # RFC 6749 section 2.3.1: both parts are form-urlencoded before joining.
            if unquote(client_id) == self.client_id and unquote(secret) == self.client_secret:
                return "client_secret_basic"
            return None
        if (
            not auth
            and form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
        ):
            return "client_secret_post"
        return None

    def token(self, headers: Any, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        method = self._client_authenticated(headers, form)
        with self.lock:
            self.token_requests.append({**form, "auth_method": method or ""})
        if method is None:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self.lock:
            grant = self._grants.get(form.get("code", ""))
            if grant is None or grant.used:
                # A code replayed: refuse it (RFC 6749 section 4.1.2 also revokes tokens).
                return 400, {"error": "invalid_grant", "error_description": "code is spent"}
            grant.used = True
        if time.time() - grant.issued_at > self.CODE_TTL_SECONDS:
            return 400, {"error": "invalid_grant", "error_description": "code expired"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        if grant.code_challenge and not self._pkce_ok(grant, form.get("code_verifier", "")):
            return 400, {"error": "invalid_grant", "error_description": "PKCE check failed"}
        access_token = secrets.token_urlsafe(32)
        with self.lock:
            self._access_tokens[access_token] = grant.identity
        answer: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email profile",
        }
        if not self.has(Fault.NO_ID_TOKEN):
            answer["id_token"] = self.id_token(grant, access_token)
        return 200, answer

    @staticmethod
    def _pkce_ok(grant: _Grant, verifier: str) -> bool:
        if grant.code_challenge_method == "S256":
            expected = _b64url(hashlib.sha256(verifier.encode()).digest())
        else:
            expected = verifier
        return secrets.compare_digest(expected, grant.code_challenge or "")

    def id_token(self, grant: _Grant, access_token: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "azp": grant.client_id,
            "iat": now,
            "exp": now + 3600,
            "auth_time": now,
            "at_hash": _half_hash(access_token),
            **grant.identity.claims(),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if self.has(Fault.WRONG_NONCE):
            claims["nonce"] = secrets.token_urlsafe(16)
        if self.has(Fault.WRONG_AUDIENCE):
            claims["aud"] = claims["azp"] = "some-other-client"
        if self.has(Fault.WRONG_ISSUER):
            claims["iss"] = "https://issuer.invalid"
        if self.has(Fault.EXPIRED):
            claims["iat"] = claims["auth_time"] = now - 7200
            claims["exp"] = now - 3600
        if self.has(Fault.UNSIGNED):
            header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64url(json.dumps(claims).encode())}."
        key = self.rogue_key if self.has(Fault.BAD_SIGNATURE) else self.key
        return jwt.encode({"alg": "RS256", "kid": SIGNING_KID, "typ": "JWT"}, claims, key)

    def userinfo(self, headers: Any) -> tuple[int, dict[str, Any]]:
        auth = headers.get("Authorization", "")
        with self.lock:
            identity = self._access_tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if identity is None:
            return 401, {"error": "invalid_token"}
        return 200, identity.claims()


def _handler_for(provider: OIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                ctype = "application/json"
            else:
                data = str(body).encode()
                ctype = "text/plain; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery())
            elif url.path == "/jwks":
                self._send(200, provider.jwks())
            elif url.path == "/authorize":
                status, headers, body = provider.authorize(params)
                self._send(status, body, headers)
            elif url.path == "/userinfo":
                self._send(*provider.userinfo(self.headers))
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            if urlsplit(self.path).path != "/token":
                self._send(404, {"error": "not_found"})
            elif provider.has(Fault.TOKEN_HANGUP):
                self.close_connection = True  # no answer at all: the client sees a reset
            elif provider.has(Fault.TOKEN_UNAVAILABLE):
                self.send_response(503)
                body = b"<html><body>Service Unavailable</body></html>"
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                status, answer = provider.token(self.headers, form)
                extra = {"WWW-Authenticate": "Basic"} if status == 401 else {}
                self._send(status, answer, extra)

    return Handler
