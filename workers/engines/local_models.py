"""Model directories an installation holds (air-gapped installs keep models here).

Plain os calls only: the web process lists these without importing any engine library.
"""

from __future__ import annotations

import os


def is_ctranslate2_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "model.bin")) and os.path.isfile(
        os.path.join(path, "config.json")
    )


def local_models(models_dir: str) -> list[str]:
    """Sorted names of the CTranslate2 model directories directly under models_dir."""
    try:
        names = sorted(os.listdir(models_dir))
    except OSError:  # missing or unreadable: no local models
        return []
    return [
        n
        for n in names
        if not n.startswith(".") and is_ctranslate2_model(os.path.join(models_dir, n))
    ]
