"""`make run`: the whole product in one process on embedded defaults.

SQLite file, an in-process Redis stand-in with a worker thread, the CPU engine; prints the
URL and a demo sign-in. Any VERBATIM_* variable you set wins over these defaults.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def _secret(var: Path) -> str:
    path = var / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def main() -> None:
    var = Path(os.environ.get("VERBATIM_VAR_DIR", ROOT / "var")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    host = os.environ.get("VERBATIM_HOST", "127.0.0.1")
    port = _port(int(os.environ.get("VERBATIM_PORT", "5000")))
    url = f"http://{host}:{port}"
    defaults = {
        "VERBATIM_ENV": "development",
        "VERBATIM_SECRET_KEY": _secret(var),
        "VERBATIM_DATABASE_URL": f"sqlite:///{var / 'verbatim.db'}",
        "VERBATIM_REDIS_URL": "",
        "VERBATIM_INLINE_WORKER": "true",
        "VERBATIM_SECURE_COOKIES": "false",  # plain http on this machine only
        "VERBATIM_BASE_URL": url,
        "VERBATIM_STAGING_DIR": str(var / "staging"),
        "VERBATIM_MODELS_DIR": str(var / "models"),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)

    from alembic import command
    from alembic.config import Config
    from werkzeug.serving import make_server

    from app import create_app
    from app.cli import ensure_demo_user

    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")
    app = create_app()
    with app.app_context():
        email, password = ensure_demo_user()
    server = make_server(host, port, app, threaded=True)
    print(
        f"\n  Verbatim is running at {url}\n  Demo sign-in: {email} / {password}\n"
        "  (Ctrl-C stops it; data lives in " + str(var) + ")\n",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
