"""Progress of a multi-problem run: a line per problem with what remains and an honest estimate.

The estimate comes from recorded wall times: each problem's ``wall_seconds`` in its last
``result.json`` under the reports root, scaled by how this run compares so far (a slower or busier
machine stretches the rest alike). A problem never run before counts at the mean of the others.
With several problems at a time (``--jobs``) the estimate lays the remaining problems, in the order
they will start, onto the first free slot after what the running ones still need: the schedule's end.
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
    """Prints ``[3/19] 2C | 1:12 elapsed | 16 to go, about 6:40 left`` before each problem.

    ``ids`` is the order the problems start in; ``jobs`` how many run at once.
    """

    def __init__(self, ids: list[str], recorded: dict[str, float], jobs: int = 1):
        self.ids, self.recorded, self.jobs = ids, recorded, max(1, jobs)
        self.started = time.perf_counter()
        self.done: dict[str, float] = {}

    def _expected(self, pid: str) -> float:
        mean = sum(self.recorded.values()) / len(self.recorded)
        return self.recorded.get(pid, mean)

    def estimate_left(self, remaining: list[str], running: dict[str, float] | None = None) -> float | None:
        """Seconds until ``remaining`` (not started) and ``running`` ({id: seconds it has run}) are
        done, ``self.jobs`` at a time; None with no recorded times at all."""
        if not self.recorded:
            return None
        before = sum(self._expected(pid) for pid in self.done)
        pace = sum(self.done.values()) / before if self.done and before > 0 else 1.0
        slots = [max(self._expected(pid) * pace - ran, 0.0) for pid, ran in (running or {}).items()]
        slots += [0.0] * max(self.jobs - len(slots), 0)
        for pid in remaining:  # in start order, each onto the slot that frees first
            free = slots.index(min(slots))
            slots[free] += self._expected(pid) * pace
        return max(slots)

    def line(self, index: int, running: dict[str, float] | None = None) -> str:
        """The line printed as problem ``index`` starts; ``running``: the others still running."""
        remaining = self.ids[index:]
        left = self.estimate_left(remaining, running)
        tail = f", about {_clock(left)} left" if left is not None else ""
        busy = f", {len(running)} running" if running else ""
        return (
            f"[{index + 1}/{len(self.ids)}] {self.ids[index]} | {_clock(self.elapsed())} elapsed | "
            f"{len(remaining)} to go{busy}{tail} (from recorded wall times)"
        )

    def finish(self, pid: str, seconds: float) -> None:
        self.done[pid] = seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def record(self) -> dict:
        """This run's wall times per entry of ``ids``, for ``run_all.json``."""
        return {
            "wall_seconds": round(self.elapsed(), 1),
            "jobs": self.jobs,
            "problems": [{"id": pid, "wall_seconds": round(s, 1)} for pid, s in self.done.items()],
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
        }
