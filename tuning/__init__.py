"""keras-tuner searches: which oracle, what budget, where the trials are kept. Search spaces live in models/."""

import os

from training.processes import stop_with_parent

# Without any call from a worker for this long, a search's chief presumes the worker dead
# (tuning.common.serve_as_chief). Here, not in tuning.common, so the command line can read it without
# importing keras-tuner (which would fix the Keras backend before --backend is read).
WORKER_TIMEOUT = 600.0


class TuningError(RuntimeError):
    """A search ended without a usable result, or its record cannot be read."""


# Set by a chief for the worker processes it starts (tuning.common.spawned_workers).
CHIEF_PID_ENV = "PS4_SEARCH_CHIEF_PID"


def stop_with_chief() -> None:
    """In a worker started by a chief, stop this process (exit status 3) within a second of that
    chief's death, from start-up on.

    keras-tuner's client waits up to an hour for a chief that does not answer, and a worker still
    starting up has not asked yet: either would hold its core that long. Its trial is not lost: the
    chief's saved state still lists it as running, and the rerun chief hands it out again."""
    chief = os.environ.pop(CHIEF_PID_ENV, None)  # not for this worker's own children
    if chief:
        stop_with_parent(int(chief), "worker")
