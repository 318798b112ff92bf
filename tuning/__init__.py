"""keras-tuner searches: which oracle, what budget, where the trials are kept. Search spaces live in models/."""

# Without any call from a worker for this long, a search's chief presumes the worker dead
# (tuning.common.serve_as_chief). Here, not in tuning.common, so the command line can read it without
# importing keras-tuner (which would fix the Keras backend before --backend is read).
WORKER_TIMEOUT = 600.0


class TuningError(RuntimeError):
    """A search ended without a usable result, or its record cannot be read."""
