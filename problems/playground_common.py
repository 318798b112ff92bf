"""Section 1: small helpers shared by the Playground demos, the dying-ReLU run and the logic-gate runs."""

from __future__ import annotations

import numpy as np


def first_epoch(condition: np.ndarray) -> int | None:
    """First epoch (index) at which ``condition`` holds, or None if it never does."""
    hits = np.flatnonzero(condition)
    return int(hits[0]) if hits.size else None
