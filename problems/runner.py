"""Runs one registered problem and writes its report: the run function measures, this records."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from problems.context import RunContext, git_commit, versions
from problems.registry import Problem
from problems.report import evaluate_targets, write_result


def run_problem(problem: Problem, ctx: RunContext) -> dict:
    """Run ``problem`` under ``ctx`` and write ``result.json``; returns the result.

    A run function returns a dict with at least ``metrics``; it may add ``hyperparameters``,
    ``params``, ``model_summary``, ``epochs``, ``plots``, ``headline`` (one line for the summary
    table when there is no test accuracy) and ``notes``. Nothing is written if it raises.
    """
    from training import DETERMINISM, set_seed

    set_seed(ctx.seed)
    started = time.perf_counter()
    measured = problem.load_run()(ctx, **problem.options)
    wall = time.perf_counter() - started
    metrics = measured.pop("metrics")
    result = {
        "id": ctx.problem_id,
        "edition": ctx.edition,
        "title": problem.title,
        "implementation": problem.key,
        "ids": problem.ids,
        "metrics": metrics,
        "reported": problem.reported.get(ctx.edition, {}),
        "target": problem.target,
        "passed": evaluate_targets(metrics, problem.target),
        "params": measured.pop("params", None),
        "model_summary": measured.pop("model_summary", None),
        "hyperparameters": measured.pop("hyperparameters", {}),
        "epochs": measured.pop("epochs", None),
        "seed": ctx.seed,
        "determinism": DETERMINISM,
        "data": ctx.data_source if measured.pop("uses_mnist", False) else measured.pop("data", None),
        "versions": versions(),
        "wall_seconds": round(wall, 2),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "settings": {
            "epochs_override": ctx.epochs,
            "tune": ctx.tune,
            "trials": ctx.trials,
            "repeats": ctx.repeats,
            "test_as_validation": ctx.test_as_validation,
        },
        **measured,
    }
    write_result(ctx.out_dir, result)
    return result
