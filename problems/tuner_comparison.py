"""2023 4E: grid search, pros and cons, measured against keras-tuner's other oracles.

A slice of MNIST (``N_TRAIN`` training images; the validation images are carved from the training
set), one 12-point search space, the same trial budget for each tuner; the table reports trials run,
epochs trained, wall time and the best validation accuracy found. The test set is not used.
"""

from __future__ import annotations

from pathlib import Path

from data_prep.mnist import flatten, one_hot, to_float, validation_split
from problems.context import RunContext
from problems.report import pyplot, save_figure
from training import MLP_BATCH_SIZE, validation_size
from tuning.compare import GRID_SIZE, compare_tuners

N_TRAIN = 10_000


def run(ctx: RunContext, max_trials: int = 6, epochs: int = 3) -> dict:
    (x, y), _ = ctx.mnist
    x, y = flatten(to_float(x)), one_hot(y)
    train, val = validation_split(x, y, validation_size(len(x)), seed=ctx.seed)
    train = (train[0][:N_TRAIN], train[1][:N_TRAIN])
    epochs = ctx.epochs or epochs
    # Each comparison starts fresh (overwrite=True): the trials themselves are the measurement.
    rows = compare_tuners(train, val, Path(ctx.tuner_dir) / "compare_4E", ctx.seed, max_trials, epochs)
    truth = rows[0]["best_val_accuracy"]

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for row in rows:
        ax.scatter(row["wall_seconds"], row["best_val_accuracy"], s=30 + 10 * row["trials"])
        ax.annotate(
            f"{row['tuner']} ({row['trials']} trials)",
            (row["wall_seconds"], row["best_val_accuracy"]),
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set(xlabel="wall seconds", ylabel="best validation accuracy", title="keras-tuner oracles, one search space")
    ax.grid(alpha=0.3)
    plot = save_figure(fig, ctx.folder / "tuner_comparison.png")
    notes = _notes(rows, max_trials, epochs, len(train[0]))
    return {
        "metrics": {"tuners": rows, "exhaustive_best_val_accuracy": truth},
        "headline": "; ".join(
            f"{r['tuner']} {r['best_val_accuracy']:.4f} in {r['trials']} trials/{r['wall_seconds']:.0f} s" for r in rows
        ),
        "hyperparameters": {
            "search_space": "units {32,64,128} x dropout {0,0.2} x learning rate {1e-3,3e-3}",
            "max_trials": max_trials,
            "epochs": epochs,
            "train_images": len(train[0]),
            "validation_images": len(val[0]),
            "batch_size": MLP_BATCH_SIZE,
        },
        "epochs": epochs,
        "plots": [plot],
        "notes": notes,
        "data": ctx.mnist_description,
    }


BAYES_HYPERPARAMETERS = 3  # units, dropout, learning rate: keras-tuner's default starts with 3 x this at random


def _notes(rows: list[dict], max_trials: int, epochs: int, train_images: int) -> list[str]:
    """The observations, every figure read off ``rows``; a claim is made only where they bear it out."""
    exhaustive, grid_part, others = rows[0], rows[1], rows[2:]
    truth = exhaustive["best_val_accuracy"]
    costliest = max(rows, key=lambda r: r["epochs_trained"])
    cost = (
        "the highest cost"
        if costliest is exhaustive
        else f"a cost second to {costliest['tuner']}'s {costliest['epochs_trained']} epochs"
    )
    default_initial = max(3 * BAYES_HYPERPARAMETERS, 3)
    notes = [
        f"The exhaustive grid ({GRID_SIZE} points) finds the space's best, {truth:.4f}, at {cost} "
        f"({exhaustive['epochs_trained']} epochs, {exhaustive['wall_seconds']} s): grid search's pro is that it is "
        "simple, reproducible and certain to find the best point of the grid; its con is that the cost is the "
        "product of the choices per hyperparameter, and it learns nothing from earlier trials.",
        f"Stopped at {grid_part['trials']} trials, grid search has walked the grid in order: it tried units "
        f"{grid_part['values_tried']['units']} only and reached {grid_part['best_val_accuracy']:.4f}. With the same "
        "budget: "
        + ", ".join(
            f"{r['tuner']} {r['best_val_accuracy']:.4f} ({r['trials']} trials, "
            f"{r['epochs_trained']} epochs, units tried {r['values_tried']['units']})"
            for r in others
        )
        + ".",
    ]
    if default_initial >= max_trials:
        notes.append(
            "BayesianOptimization runs with num_initial_points=3: keras-tuner's default, 3 x the number of "
            f"hyperparameters = {default_initial} random trials, would fill this budget of {max_trials} and make "
            "it a random search."
        )
    notes.append(
        f"Each tuner ran once, with {epochs}-epoch trials on {train_images:,} images: no repeat measured the "
        "run-to-run noise, so small differences may be chance; rerun with another --seed to see how the ranking moves."
    )
    return notes
