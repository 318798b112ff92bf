"""Runs one registered problem and writes its report: the run function measures, this records."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from problems.context import RunContext, git_commit, versions
from problems.registry import Problem
from problems.report import evaluate_targets, write_result

NOT_COMPARABLE = "write-up figures are for MNIST"


def verdict(result: dict) -> str:
    """One word or two for a finished problem: did it reach its target (none: "done")."""
    return {True: "target reached", False: "TARGET MISSED", None: "done"}[result["passed"]]


def _gap_to_write_up(metrics: dict, reported: dict) -> str | None:
    """Our mean test accuracy against the write-up's, and whether the gap exceeds the seed spread."""
    from training.record import gap_against_spread

    if not isinstance(metrics.get("test_accuracy"), float) or not isinstance(reported.get("test_accuracy"), float):
        return None
    ours, theirs, std = metrics["test_accuracy"], reported["test_accuracy"], metrics.get("test_accuracy_std")
    spread = f" ± {std:.4f}" if std is not None else ""
    seeds = len(metrics.get("seeds", [None]))
    return (
        f"Test accuracy {ours:.4f}{spread} ({seeds} seed(s)) against the write-up's {theirs:.4f} (one run): "
        f"a gap of {ours - theirs:+.4f}, which {gap_against_spread(ours - theirs, [std])}."
    )


def run_problem(problem: Problem, ctx: RunContext) -> dict:
    """Run ``problem`` under ``ctx`` and write ``result.json``; returns the result.

    A run function returns a dict with at least ``metrics``; it may add ``hyperparameters``,
    ``params``, ``model_summary``, ``epochs``, ``plots``, ``headline`` (one line for the summary
    table when there is no test accuracy), ``notes`` and ``data`` (what it ran on, by name and
    checksum: ``ctx.mnist_description`` for MNIST). Nothing is written if it raises.

    On a ``--dataset-dir`` data set the write-ups' figures and the problem's target are MNIST's, so
    the result carries none of them (no pass/fail) and says so in ``not_comparable``.
    """
    from training import DETERMINISM, set_seed
    from training.backend import backend_record

    set_seed(ctx.seed)
    started = time.perf_counter()
    measured = problem.load_run()(ctx, **problem.options)
    wall = time.perf_counter() - started
    metrics = measured.pop("metrics")
    backend = backend_record(ctx.threads)
    notes = measured.pop("notes", [])
    gap = _gap_to_write_up(metrics, problem.reported.get(ctx.edition, {}) if ctx.on_write_up_data else {})
    notes = notes + ([gap] if gap else [])
    if ctx.backend_requested and backend["name"] != ctx.backend_requested:
        notes = [
            f"Ran on {backend['name']}, not on the requested {ctx.backend_requested}: this problem runs only on "
            f"{', '.join(problem.backends)} (problems/registry.py)."
        ] + notes
    comparable = ctx.on_write_up_data
    target = problem.target if comparable else {}
    result = {
        "id": ctx.problem_id,
        "edition": ctx.edition,
        "title": problem.title,
        "implementation": problem.key,
        "ids": problem.ids,
        "metrics": metrics,
        "reported": problem.reported.get(ctx.edition, {}) if comparable else {},
        "target": target,
        "passed": evaluate_targets(metrics, target),
        "dataset": ctx.dataset_name,  # None: the problem set's own data (MNIST where it uses MNIST)
        "not_comparable": None if comparable else NOT_COMPARABLE,
        "params": measured.pop("params", None),
        "model_summary": measured.pop("model_summary", None),
        "hyperparameters": measured.pop("hyperparameters", {}),
        "epochs": measured.pop("epochs", None),
        "seed": ctx.seed,
        "backend": backend,
        "determinism": DETERMINISM,
        "data": measured.pop("data", None),
        "versions": versions(),
        "wall_seconds": round(wall, 2),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "settings": {
            "seeds": ctx.seeds,
            "epochs_override": ctx.epochs,
            "tune": ctx.tune,
            "trials": ctx.trials,
            "repeats": ctx.repeats,
            "test_as_validation": ctx.test_as_validation,
            "jobs": ctx.jobs,
            "threads": ctx.threads,
            "backend_requested": ctx.backend_requested,
        },
        "notes": notes,
        **measured,
    }
    write_result(ctx.results_root, result)
    return result
