"""Grid search against keras-tuner's other oracles on one search space and one budget (2023 4E).

Every tuner gets the same trial budget on ``models.mlp.build_small_mlp_hp`` (12 grid points):
GridSearch, RandomSearch and BayesianOptimization run ``max_trials`` trials of ``epochs`` epochs;
Hyperband spends its own schedule with ``max_epochs = epochs``. An exhaustive grid run gives the
true best point of the space, so each tuner's find can be judged against it.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras_tuner as kt

from models.mlp import build_small_mlp_hp
from training import MLP_BATCH_SIZE, set_seed, tuner_seed
from tuning.common import completed_trials, ensure_success

GRID_SIZE = 12


def make_tuner(name: str, directory: Path, max_trials: int, epochs: int, seed: int):
    common = dict(
        objective="val_accuracy", seed=tuner_seed(seed), directory=str(directory), project_name=name, overwrite=True
    )
    if name == "Hyperband":
        return kt.Hyperband(build_small_mlp_hp, max_epochs=epochs, factor=3, **common)
    if name == "BayesianOptimization":
        # keras-tuner's default starts with max(3 x 3 hyperparameters, 3) = 9 random trials, more than
        # the budget: it would be a random search. Three random points, then the Gaussian process.
        return kt.BayesianOptimization(build_small_mlp_hp, max_trials=max_trials, num_initial_points=3, **common)
    oracle = {"GridSearch": kt.GridSearch, "RandomSearch": kt.RandomSearch}[name.removesuffix(" (exhaustive)")]
    return oracle(build_small_mlp_hp, max_trials=max_trials, **common)


def compare_tuners(
    train, val, directory: Path, seed: int, max_trials: int = 6, epochs: int = 3, verbose: int = 0
) -> list[dict]:
    """Run each tuner once and return one row per tuner: trials, epochs trained, wall time, best score."""
    rows = []
    plans = [
        ("GridSearch (exhaustive)", GRID_SIZE),
        ("GridSearch", max_trials),
        ("RandomSearch", max_trials),
        ("BayesianOptimization", max_trials),
        ("Hyperband", None),
    ]
    for name, trials in plans:
        set_seed(seed)  # the same initial weights stream for every tuner
        tuner = make_tuner(name, directory, trials or max_trials, epochs, seed)
        started = time.perf_counter()
        tuner.search(*train, validation_data=val, epochs=epochs, batch_size=MLP_BATCH_SIZE, verbose=verbose)
        wall = time.perf_counter() - started
        ensure_success(tuner)
        done = completed_trials(tuner)
        best = tuner.oracle.get_best_trials(1)[0]
        epochs_trained = sum(
            t.hyperparameters.values.get("tuner/epochs", epochs)
            - t.hyperparameters.values.get("tuner/initial_epoch", 0)
            for t in done
        )
        rows.append(
            {
                "tuner": name,
                "trials": len(done),
                "epochs_trained": int(epochs_trained),
                "wall_seconds": round(wall, 1),
                "best_val_accuracy": float(best.score),
                "best": {k: v for k, v in best.hyperparameters.values.items() if not k.startswith("tuner/")},
                "values_tried": {
                    name: sorted({t.hyperparameters.values[name] for t in done})
                    for name in ("units", "dropout", "learning_rate")
                },
            }
        )
        print(
            f"{name:24s} {len(done):3d} trials, {epochs_trained:3d} epochs, {wall:6.1f} s, "
            f"best val accuracy {best.score:.4f} {rows[-1]['best']}",
            flush=True,
        )
    return rows
