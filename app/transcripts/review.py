"""The review pass: step through words the engine was unsure of; accept, fix, fix all."""

from __future__ import annotations

# Words whose probability is below this are marked on the page and offered for review.
DEFAULT_THRESHOLD = 0.5
