"""Helpers every search uses: a loud failure when no trial succeeded, and a table of the trials."""

from __future__ import annotations

import time
from pathlib import Path


class TuningError(RuntimeError):
    """A search ended without a usable result."""


def open_resumable(make_tuner, project_dir: Path):
    """Build a tuner with ``overwrite=False`` so an interrupted search resumes (keras-tuner retries the
    trial that was running). keras-tuner writes its JSON files in place, so a run killed mid-write can
    leave one unreadable: then the folder is moved aside, with a warning, and the search starts over.
    """
    try:
        return make_tuner()
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        aside = project_dir.with_name(f"{project_dir.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        project_dir.rename(aside)
        print(f"warning: tuner folder {project_dir} is unreadable ({err}); moved it to {aside} and starting over")
        return make_tuner()


def completed_trials(tuner) -> list:
    return [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED" and t.score is not None]


def ensure_success(tuner) -> None:
    """keras-tuner's ``search()`` does not raise when every trial fails (for example without
    tensorboard installed); refuse to go on with no completed trial."""
    if completed_trials(tuner):
        return
    statuses = sorted({t.status for t in tuner.oracle.trials.values()}) or ["no trials"]
    raise TuningError(
        f"the keras-tuner search in {tuner.project_dir} finished with no successful trial "
        f"(statuses: {', '.join(statuses)}). Check that tensorboard is installed "
        "(pip install -r requirements.txt) and read the trial errors above; delete the folder to start over."
    )


def trials_table(tuner):
    """A pandas DataFrame, one row per trial: its id, status, score and hyperparameters, best first."""
    import pandas as pd

    rows = [
        {"trial": t.trial_id, "status": t.status, "score": t.score, **t.hyperparameters.values}
        for t in tuner.oracle.trials.values()
    ]
    return pd.DataFrame(rows).sort_values("score", ascending=False, na_position="last")
