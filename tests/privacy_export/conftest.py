"""Data exports in a folder of this test process's own (the default, var/exports, is shared
by every process on the machine): the app's settings and the environment that forked job
work horses build their app from."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from flask import Flask


@pytest.fixture(scope="session", autouse=True)
def export_dir(app: Flask) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="verbatim-exports-")
    cfg = app.extensions["verbatim.settings"]
    saved_env, saved_cfg = os.environ.get("VERBATIM_EXPORT_DIR"), cfg.export_dir
    os.environ["VERBATIM_EXPORT_DIR"] = folder
    cfg.export_dir = folder
    try:
        yield folder
    finally:
        cfg.export_dir = saved_cfg
        if saved_env is None:
            os.environ.pop("VERBATIM_EXPORT_DIR", None)
        else:
            os.environ["VERBATIM_EXPORT_DIR"] = saved_env
        shutil.rmtree(folder, ignore_errors=True)
