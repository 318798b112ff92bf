"""What ships after a search (``--tune``): its best trial and the hand-picked one are trained over
seeds, compared on the validation split, and the choice is written beside the report as
``search/trials.csv``, ``search/search.json`` and ``search/best_so_far.png``. Plain runs read the
choice back (``tuning.records``). Used by the MLP budgets (``problems.depth_width``) and the CNN
(``problems.cnn``); each passes how to train and describe its own settings.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

from problems.context import RunContext, git_commit
from problems.report import atomic_write_text
from training.backend import backend_record
from training.record import gap_against_spread
from tuning.records import SEARCH_FILE, SEARCH_FOLDER, TRIALS_FILE, search_folder

FINALIST_SEEDS = 3


@dataclass
class Shipped:
    """The settings a run trains with and where they came from.

    Attributes:
        settings: the chosen trial's settings, as the problem's model factory takes them.
        trial_id: the search trial they are (``hyperparameters.search_trial``).
        search: the search record (``search.json``): oracle, budget, finalists, choice and why.
        records: this run's finalist runs of the chosen settings, one per seed (``--tune`` only):
            the final result reuses them when its seeds are the same.
        plots: plots the search drew, relative to the report folder.
    """

    settings: dict
    trial_id: str
    search: dict
    records: list = field(default_factory=list)
    plots: list = field(default_factory=list)


def finalist_seeds(ctx: RunContext) -> list[int]:
    return [ctx.seed + k for k in range(FINALIST_SEEDS)]


def run_finalists(ctx: RunContext, candidates, train, describe) -> tuple[list[dict], dict]:
    """Train each candidate with ``FINALIST_SEEDS`` seeds: (finalist entries for search.json,
    {trial id: records}).

    Args:
        candidates: (role, trial id, hyperparameter values) of the search's best and, when it is
            another configuration, the hand-picked trial.
        train: ``train(settings, seeds, label)`` -> that configuration's records, one per seed.
        describe: ``describe(values)`` -> (settings, one-line summary for a table).
    """
    seeds = finalist_seeds(ctx)
    finalists, runs = [], {}
    for role, trial_id, values in candidates:
        settings, summary = describe(values)
        print(f"finalist trial {trial_id} ({role}), seeds {seeds}: {summary}", flush=True)
        runs[trial_id] = train(settings, seeds, f"{ctx.problem_id} finalist {trial_id}")
        accuracies = [r.val_accuracy for r in runs[trial_id]]
        finalists.append(
            {
                "trial": trial_id,
                "role": role,
                "values": dict(values),
                "settings": settings,
                "summary": summary,
                "val_accuracy_mean": statistics.fmean(accuracies),
                "val_accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                "per_seed": [
                    {
                        "seed": r.seed,
                        "val_accuracy": r.val_accuracy,
                        "val_loss": r.val_loss,
                        "train_seconds": r.train_seconds,
                    }
                    for r in runs[trial_id]
                ],  # fmt: skip
            }
        )
    return finalists, runs


def choose(finalists: list[dict]) -> tuple[dict, str]:
    """The finalist that ships and why: the search's best, unless the hand-picked trial's mean
    validation accuracy is higher by more than the seed spread (the larger of the two std)."""
    best = finalists[0]
    if len(finalists) == 1:
        return best, "The search's best trial has the hand-picked settings, so they ship."
    hand = finalists[1]
    gap = hand["val_accuracy_mean"] - best["val_accuracy_mean"]
    judged = gap_against_spread(gap, [best["val_accuracy_std"], hand["val_accuracy_std"]])
    versus = (
        f"on validation over {len(best['per_seed'])} seeds the hand-picked trial {hand['trial']} scored "
        f"{hand['val_accuracy_mean']:.4f} against the search's best {best['trial']}'s {best['val_accuracy_mean']:.4f}, "
        f"a gap of {gap:+.4f}, which {judged}"
    )
    if gap > 0 and judged.startswith("exceeds"):
        return hand, f"The hand-picked settings ship: {versus}."
    return best, f"The search's best ships: {versus}."


def record_choice(
    ctx: RunContext, search: dict, table, seconds: float, candidates, train, describe, guided_from: int | None = None
) -> Shipped:
    """Run the finalists, choose, and write ``search/`` in the report folder (every file atomically):
    ``trials.csv`` (``table``, one row per trial), ``search.json`` (``search`` with the run's seed,
    backend, workers, wall time, commit, finalists and choice) and ``best_so_far.png``. Returns what ships,
    with the chosen finalist's runs."""
    from problems.report import plot_best_so_far

    finalists, runs = run_finalists(ctx, candidates, train, describe)
    chosen, why = choose(finalists)
    record = {
        **search,
        "seed": ctx.seed,
        "backend": backend_record(ctx.threads),
        "workers": ctx.jobs if ctx.search_workers else 1,
        "wall_seconds": round(seconds, 1),
        "finalist_seconds": round(sum(r.train_seconds for rs in runs.values() for r in rs), 1),
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "selection": f"validation accuracy after the full training, mean of {FINALIST_SEEDS} seeds; the test set "
        "plays no part",
        "finalists": finalists,
        "chosen_trial_id": chosen["trial"],
        "chosen": {"values": chosen["values"], "settings": chosen["settings"]},
        "why": why,
    }
    folder = search_folder(ctx.folder)
    atomic_write_text(folder / TRIALS_FILE, table.rename(columns={"score": "val_accuracy"}).to_csv(index=False))
    title = f"{ctx.edition} {ctx.problem_id}: {search['oracle']}, best so far"
    plot = plot_best_so_far(table, title, folder / "best_so_far.png", guided_from)
    atomic_write_text(folder / SEARCH_FILE, json.dumps(record, indent=2, default=str) + "\n")
    print(f"search: chose trial {chosen['trial']}: {why}", flush=True)
    return Shipped(chosen["settings"], chosen["trial"], record, runs[chosen["trial"]], [f"{SEARCH_FOLDER}/{plot}"])


def search_summary(search: dict) -> dict:
    """The search in a few figures, for result.json's metrics."""
    keys = (
        "oracle",
        "max_trials",
        "num_initial_points",
        "max_epochs",
        "factor",
        "hyperband_iterations",
        "completed",
        "wall_seconds",
        "trials_reused",
        "best_trial_id",
        "best_val_accuracy",
        "hand_picked_trial_id",
        "chosen_trial_id",
        "seed",
        "commit",
    )
    return {k: search[k] for k in keys if k in search}


def finalist_rows(search: dict) -> list[dict]:
    """The finalists' table: each trial's validation accuracy over the seeds (mean ± std)."""
    return [
        {
            "trial": f["trial"],
            "role": f["role"],
            "chosen": f["trial"] == search["chosen_trial_id"],
            "val_accuracy": f"{f['val_accuracy_mean']:.4f} ± {f['val_accuracy_std']:.4f}",
            "seeds": ", ".join(str(r["seed"]) for r in f["per_seed"]),
            "settings": f["summary"],
        }
        for f in search.get("finalists", [])
    ]


def choice_note(shipped: Shipped) -> str:
    search = shipped.search
    return (
        f"Settings: trial {shipped.trial_id} of a {search['oracle']} search of {search['completed']} completed "
        f"trials ({search['wall_seconds']:.0f} s on {search['workers']} worker process(es), seed {search['seed']}, "
        f"commit {search['commit']}). {search['why']}"
    )


def reuse_note() -> str:
    return "The final runs are the chosen finalist's runs of this search (same settings and seeds)."
