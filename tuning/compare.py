"""Grid search against keras-tuner's other oracles on one search space, over seeds (2023 4E).

How it stays cheap enough to repeat: the space (``models.mlp.SMALL_SPACE``) has 12 points. For each
seed, every point is trained once for ``epochs`` epochs on a slice of MNIST and its validation
accuracy after each epoch is recorded (``learning_curves``): 12 short trainings a seed. Each oracle
then runs its own keras-tuner search against that table (``TableTuner``): it proposes a point, is
told the score that point reached with that seed after the epochs it asked for (keras-tuner's score:
the best epoch so far), and proposes again. Every oracle meets the same outcome for the same
proposal, so the comparison is about what each oracle proposes; the training noise is in the
spread over seeds. Tabulating trials this way is how hyperparameter-optimisation benchmarks
compare optimisers (tabular benchmarks); the oracles themselves are keras-tuner's, unchanged.

Budgets: GridSearch, RandomSearch and BayesianOptimization (3 random points, then its Gaussian
process) get the whole grid's 12 trials; Hyperband (``max_epochs = epochs``, factor 3) runs three
iterations of its brackets, a similar number of epochs. A search's cost is counted in epochs trained.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import keras_tuner as kt

from models.mlp import SMALL_SPACE, build_small_mlp, build_small_mlp_hp
from training import MLP_BATCH_SIZE, fit, restart_from, set_seed, tuner_seed

GRID_SIZE = len(list(itertools.product(*SMALL_SPACE.values())))
ORACLES = ("GridSearch", "RandomSearch", "BayesianOptimization", "Hyperband")
HYPERBAND_ITERATIONS = 3


def points() -> list[dict]:
    """Every point of the space, in GridSearch's order (the last hyperparameter varies fastest)."""
    return [dict(zip(SMALL_SPACE, combo, strict=True)) for combo in itertools.product(*SMALL_SPACE.values())]


def point_key(values: dict) -> str:
    return ", ".join(f"{name} {values[name]:g}" for name in SMALL_SPACE)


def learning_curves(train, val, seed: int, epochs: int, compiled: dict | None = None) -> dict[str, list[float]]:
    """{point: validation accuracy after each of ``epochs`` epochs}, every point trained from ``seed``.

    Each point's model is built fresh from ``seed``, and trained on the one compiled model of its
    layout (units, dropout) kept in ``compiled`` across points and seeds (``training.restart_from``):
    the same figures as training the fresh model, without compiling 12 models a seed.
    """
    compiled = {} if compiled is None else compiled
    curves = {}
    for values in points():
        set_seed(seed)
        fresh = build_small_mlp(**values)
        model = compiled.setdefault((values["units"], values["dropout"]), fresh)
        if model is not fresh:
            restart_from(model, fresh)
        history = fit(model, train, val, epochs, MLP_BATCH_SIZE, seed, verbose=0)
        curves[point_key(values)] = [float(a) for a in history.history["val_accuracy"]]
    return curves


class TableTuner(kt.Tuner):
    """A keras-tuner Tuner whose trials look their score up in ``curves`` instead of training: the
    point's best validation accuracy over the epochs the oracle asked for (Hyperband's
    ``tuner/epochs``; every other oracle's trials run the table's full ``epochs``)."""

    def __init__(self, curves: dict[str, list[float]], epochs: int, **kwargs):
        super().__init__(hypermodel=build_small_mlp_hp, **kwargs)
        self.curves, self.epochs = curves, epochs

    def run_trial(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        return {"val_accuracy": max(self.curves[point_key(values)][: values.get("tuner/epochs", self.epochs)])}


def make_oracle(name: str, seed: int, epochs: int):
    common = dict(objective=kt.Objective("val_accuracy", "max"), seed=tuner_seed(seed))
    if name == "Hyperband":
        return kt.oracles.HyperbandOracle(
            max_epochs=epochs, factor=3, hyperband_iterations=HYPERBAND_ITERATIONS, **common
        )
    if name == "BayesianOptimization":
        # keras-tuner's default would start with 3 x 3 hyperparameters = 9 random points of the 12.
        return kt.oracles.BayesianOptimizationOracle(max_trials=GRID_SIZE, num_initial_points=3, **common)
    oracle = {"GridSearch": kt.oracles.GridSearchOracle, "RandomSearch": kt.oracles.RandomSearchOracle}[name]
    return oracle(max_trials=GRID_SIZE, **common)


def run_oracle(name: str, curves: dict[str, list[float]], seed: int, epochs: int, directory: Path) -> dict:
    """One search by ``name`` against ``curves``: its trials in order, the epochs spent and the best so far."""
    tuner = TableTuner(
        curves, epochs, oracle=make_oracle(name, seed, epochs), directory=str(directory),
        project_name=f"{name}_seed{seed}", overwrite=True,
    )  # fmt: skip
    tuner.search(verbose=0)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
    spent, best, curve, tried = 0, 0.0, [], []
    for trial in trials:
        if trial.status != "COMPLETED":
            continue
        values = trial.hyperparameters.values
        spent += values.get("tuner/epochs", epochs) - values.get("tuner/initial_epoch", 0)
        best = max(best, float(trial.score))
        curve.append([spent, best])
        tried.append(point_key(values))
    return {"oracle": name, "seed": seed, "trials": len(curve), "epochs": spent, "best_val_accuracy": best,
            "points_tried": len(set(tried)), "curve": curve}  # fmt: skip


def compare_oracles(train, val, directory: Path, seeds: list[int], epochs: int = 3) -> dict:
    """Tabulate every point for each seed, then run each oracle against each seed's table.

    Returns {"seeds": [{seed, grid_best, grid_best_point, table_seconds, curves}], "runs": [run_oracle
    rows], "oracle_seconds"}."""
    per_seed, runs, oracle_seconds, compiled = [], [], 0.0, {}
    for seed in seeds:
        started = time.perf_counter()
        curves = learning_curves(train, val, seed, epochs, compiled)
        table_seconds = time.perf_counter() - started
        best_point = max(curves, key=lambda key: max(curves[key]))
        per_seed.append({"seed": seed, "grid_best": max(curves[best_point]), "grid_best_point": best_point,
                         "table_seconds": round(table_seconds, 1), "curves": curves})  # fmt: skip
        started = time.perf_counter()
        for name in ORACLES:
            runs.append(run_oracle(name, curves, seed, epochs, directory))
        oracle_seconds += time.perf_counter() - started
        print(
            f"seed {seed}: grid's best {per_seed[-1]['grid_best']:.4f} ({best_point}); "
            + "; ".join(f"{r['oracle']} {r['best_val_accuracy']:.4f} in {r['epochs']} epochs" for r in runs[-4:]),
            flush=True,
        )
    return {"seeds": per_seed, "runs": runs, "oracle_seconds": round(oracle_seconds, 1)}
