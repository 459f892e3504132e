"""Loaded models, kept for the life of the worker process: loading a large model takes
longer than transcribing a short file. The GPU worker does not fork, so this survives
between jobs; it holds a few models at most (GPU memory)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from workers.engines.base import Engine, EngineEnv, LoadedModel

MAX_LOADED = 2
_loaded: OrderedDict[tuple[str, str], tuple[LoadedModel, float]] = OrderedDict()
_lock = threading.Lock()


def get(engine: Engine, model: str, env: EngineEnv) -> tuple[LoadedModel, float]:
    """The loaded model and how long loading it took now (0 when it was already loaded)."""
    key = (engine.name, model)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key][0], 0.0
        while len(_loaded) >= MAX_LOADED:
            _loaded.popitem(last=False)
        started = time.perf_counter()
        loaded = engine.load(model, env)
        took = time.perf_counter() - started
        _loaded[key] = (loaded, took)
        return loaded, took


def clear() -> None:
    with _lock:
        _loaded.clear()
