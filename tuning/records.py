"""A search's record, kept with the reports (written by ``problems/``): ``search/trials.csv`` and
``search/search.json``.

``search.json`` says which oracle ran with which budget, seed, backend and commit, how long it took,
the best trial, the finalists compared over seeds and the trial chosen to ship (``chosen_trial_id``)
and why. The MLPs and the CNN train with the chosen trial's values on every run (``chosen_values``;
the CNN takes its dropout rate from its sweep). This module
imports neither Keras nor keras-tuner: a plain run reads its settings without starting a search.
"""

from __future__ import annotations

import json
from pathlib import Path

from tuning import TuningError

SEARCH_FOLDER, SEARCH_FILE, TRIALS_FILE = "search", "search.json", "trials.csv"
REPO_ROOT = Path(__file__).resolve().parent.parent
# The searches that ship: the 2018 numbering's folders (2023 3B-3D and 4F are the same problems).
SHIPPED_ROOT = REPO_ROOT / "reports" / "2018"


class SearchRecordError(TuningError):
    """A search record is missing or unreadable; the message says which and how to make it again."""


def search_folder(problem_folder: Path) -> Path:
    return Path(problem_folder) / SEARCH_FOLDER


def read_search(key: str, root: Path | None = None) -> dict:
    """The search record of ``key`` ('2C', '2D', '2E' or '3D') under ``root`` (default ``SHIPPED_ROOT``)."""
    path = search_folder(Path(root or SHIPPED_ROOT) / key) / SEARCH_FILE
    try:
        record = json.loads(path.read_text())
        record["chosen"]["values"]  # noqa: B018  (the part a run needs)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SearchRecordError(
            f"the search record reports/2018/{key}/search/{SEARCH_FILE} is missing or unreadable "
            f"({type(err).__name__}); restore it from git (git checkout -- reports/2018/{key}/search) "
            f"or rerun the search with python main.py --problem {key} --tune"
        ) from None
    return record


def chosen_values(key: str, root: Path | None = None) -> tuple[str, dict]:
    """(trial id, hyperparameter values) of the trial the search of ``key`` chose to ship."""
    record = read_search(key, root)
    return record["chosen_trial_id"], dict(record["chosen"]["values"])


def shipped_mlp_settings(key: str, root: Path | None = None) -> tuple[str, dict]:
    """(trial id, ``models.mlp.settings_from_values`` of it): what budget ``key`` trains with."""
    from models.mlp import BUDGETS, settings_from_values  # noqa: PLC0415  (Keras only when asked)

    trial_id, values = chosen_values(key, root)
    return trial_id, settings_from_values(values, BUDGETS[key])
