"""Progress of a multi-problem run: a line per problem with what remains and an honest estimate.

The estimate comes from recorded wall times: each problem's ``wall_seconds`` in its last
``result.json`` under the reports root, scaled by how this run compares so far (a slower or busier
machine stretches the rest alike). A problem never run before counts at the mean of the others.
At the end of ``--problem all`` the run's own times go to ``<edition>/run_all.json``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path


def recorded_seconds(folder: Path, ids: list[str]) -> dict[str, float]:
    """``{id: wall_seconds}`` from ``folder/<id>/result.json`` where one exists and is readable."""
    found = {}
    for pid in ids:
        try:
            found[pid] = float(json.loads((folder / pid / "result.json").read_text())["wall_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


class Progress:
    """Prints ``[3/19] 2C | 1:12 elapsed | 16 to go, about 6:40 left`` before each problem."""

    def __init__(self, ids: list[str], recorded: dict[str, float]):
        self.ids, self.recorded = ids, recorded
        self.started = time.perf_counter()
        self.done: dict[str, float] = {}

    def estimate_left(self, remaining: list[str]) -> float | None:
        """Seconds left for ``remaining``, or None with no recorded times at all."""
        if not self.recorded:
            return None
        mean = sum(self.recorded.values()) / len(self.recorded)
        expected = sum(self.recorded.get(pid, mean) for pid in remaining)
        before = sum(self.recorded.get(pid, mean) for pid in self.done)
        pace = sum(self.done.values()) / before if self.done and before > 0 else 1.0
        return expected * pace

    def line(self, index: int) -> str:
        elapsed = time.perf_counter() - self.started
        remaining = self.ids[index:]
        left = self.estimate_left(remaining)
        tail = f", about {_clock(left)} left" if left is not None else ""
        return (
            f"[{index + 1}/{len(self.ids)}] {self.ids[index]} | {_clock(elapsed)} elapsed | "
            f"{len(remaining)} to go{tail} (from recorded wall times)"
        )

    def finish(self, pid: str, seconds: float) -> None:
        self.done[pid] = seconds

    def record(self) -> dict:
        """This run's per-problem wall times, for ``run_all.json``."""
        return {
            "wall_seconds": round(time.perf_counter() - self.started, 1),
            "problems": [{"id": pid, "wall_seconds": round(s, 1)} for pid, s in self.done.items()],
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
        }
