"""A thin helper over Flask's test client: CSRF tokens, sign-in, htmx requests."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.auth.models import User
from app.auth.services import sign_up
from app.extensions import db

PASSWORD = "correct horse battery staple"
# Requests go over https, like production: Secure cookies and CSRF's Referer check apply.
BASE = "https://localhost"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.test"


def make_user(
    app: Flask, email: str | None = None, password: str = PASSWORD, name: str = ""
) -> User:
    with app.app_context():
        user = sign_up(email or unique_email(), password, name)
        db.session.expunge(user)
        return user


class Web:
    def __init__(self, app: Flask, remote_addr: str) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = remote_addr
        self.user: User | None = None

    def get(self, url: str, **kw: Any) -> TestResponse:
        kw.setdefault("base_url", BASE)
        return self.client.get(url, **kw)

    def csrf(self) -> str:
        page = self.get("/account" if self.user else "/login").get_data(as_text=True)
        match = _TOKEN.search(page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post(
        self,
        url: str,
        data: dict[str, Any] | None = None,
        *,
        htmx: bool = False,
        csrf: bool = True,
        **kw: Any,
    ) -> TestResponse:
        data = dict(data or {})
        headers = dict(kw.pop("headers", {}))
        if csrf:
            token = self.csrf()
            if htmx:
                headers["X-CSRFToken"] = token
            else:
                data["csrf_token"] = token
        if htmx:
            headers["HX-Request"] = "true"
        # Over https Flask-WTF also wants a same-origin Referer, as browsers send.
        headers.setdefault("Referer", f"{BASE}/")
        kw.setdefault("base_url", BASE)
        return self.client.post(url, data=data, headers=headers, **kw)

    def send(self, method: str, url: str, *, htmx: bool = False, **kw: Any) -> TestResponse:
        """Any method, CSRF token in the header (as the browser's scripts and htmx send it)."""
        headers = dict(kw.pop("headers", {}))
        headers["X-CSRFToken"] = self.csrf()
        if htmx:
            headers["HX-Request"] = "true"
        headers.setdefault("Referer", f"{BASE}/")
        kw.setdefault("base_url", BASE)
        return self.client.open(url, method=method, headers=headers, **kw)

    def login(self, user: User, password: str = PASSWORD) -> TestResponse:
        resp = self.post("/login", {"email": user.email, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        self.user = user
        return resp

    def signup(self, email: str, password: str = PASSWORD, name: str = "") -> TestResponse:
        return self.post(
            "/signup", {"email": email, "password": password, "name": name, "age_13": "on"}
        )
