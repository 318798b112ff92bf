"""2023 4E: grid search, pros and cons, read off measured search curves of keras-tuner's oracles.

The story of a run: a slice of MNIST (``N_TRAIN`` training images; validation carved from the
training set; the test set is not used), one 12-point space, ``SEEDS`` seeds. For each seed every
point is trained once (``tuning.compare.learning_curves``) and GridSearch, RandomSearch,
BayesianOptimization and Hyperband each search against that table; the plot shows the best
validation accuracy found so far against epochs spent (median and range over seeds), with the
exhaustive grid's best as the reference, and the notes read grid search's pros and cons off it.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from data_prep.mnist import flatten, one_hot, to_float, validation_split
from problems.context import RunContext
from problems.report import pyplot, save_figure
from training import MLP_BATCH_SIZE, validation_size
from training.record import gap_against_spread, sample_std
from tuning.compare import GRID_SIZE, HYPERBAND_ITERATIONS, ORACLES, compare_oracles

N_TRAIN = 10_000
SEEDS = 5  # at least; --seeds N asks for more
EPOCHS = 3
COLOURS = {"GridSearch": "tab:blue", "RandomSearch": "tab:green", "BayesianOptimization": "tab:red",
           "Hyperband": "tab:purple"}  # fmt: skip


def run(ctx: RunContext, epochs: int = EPOCHS) -> dict:
    (x, y), _ = ctx.mnist
    x, y = flatten(to_float(x)), one_hot(y)
    train, val = validation_split(x, y, validation_size(len(x)), seed=ctx.seed)
    train = (train[0][:N_TRAIN], train[1][:N_TRAIN])
    epochs = ctx.epochs or epochs
    seeds = [ctx.seed + k for k in range(max(SEEDS, ctx.seeds))]
    found = compare_oracles(train, val, Path(ctx.tuner_dir) / "compare_4E", seeds, epochs)
    budget = GRID_SIZE * epochs // 3  # a third of the grid's cost: where the oracles differ most
    rows = [summary_row(name, found, budget) for name in ORACLES]
    grid_best = [s["grid_best"] for s in found["seeds"]]
    plot = plot_curves(found, budget, ctx.folder / "tuner_comparison.png", f"{ctx.edition} {ctx.problem_id}")
    return {
        "metrics": {
            "repeats": len(seeds),
            "grid_best_val_accuracy": statistics.fmean(grid_best),
            "grid_best_val_accuracy_std": sample_std(grid_best),
            "oracles": rows,
        },
        "headline": "; ".join(
            f"{r['oracle']} {r['best_at_budget_mean']:.4f} at {budget} epochs, grid's best in {r['reached_best']}"
            for r in rows
        ),
        "hyperparameters": {
            "search_space": "units {32,64,128} x dropout {0,0.2} x learning rate {1e-3,3e-3}",
            "seeds": seeds,
            "epochs_per_point": epochs,
            "budgets": f"GridSearch, RandomSearch, BayesianOptimization (3 random points): {GRID_SIZE} trials each; "
            f"Hyperband: max_epochs {epochs}, factor 3, {HYPERBAND_ITERATIONS} iterations",
            "train_images": len(train[0]),
            "validation_images": len(val[0]),
            "batch_size": MLP_BATCH_SIZE,
            "method": "each point trained once per seed; the oracles search against that table (tuning/compare.py)",
        },
        "epochs": epochs,
        "plots": [plot],
        "notes": notes(rows, found, budget, epochs),
        "seed_runs": [{**s, "searches": [r for r in found["runs"] if r["seed"] == s["seed"]]} for s in found["seeds"]],
        "data": ctx.mnist_description,
    }


def best_at(curve: list[list], epochs: float) -> float:
    """The best validation accuracy a search had found after spending ``epochs`` (0 before its first trial)."""
    return max((best for spent, best in curve if spent <= epochs), default=0.0)


def epochs_to(curve: list[list], target: float) -> int | None:
    """Epochs a search spent until it found ``target`` (None: never, within its budget)."""
    return next((spent for spent, best in curve if best >= target), None)


def summary_row(name: str, found: dict, budget: int) -> dict:
    """One oracle over the seeds: what it found by ``budget`` epochs and at its end, and how soon it
    found the seed's grid best."""
    best = {s["seed"]: s["grid_best"] for s in found["seeds"]}
    runs = [r for r in found["runs"] if r["oracle"] == name]
    at_budget = [best_at(r["curve"], budget) for r in runs]
    to_best = [epochs_to(r["curve"], best[r["seed"]]) for r in runs]
    reached = [e for e in to_best if e is not None]
    return {
        "oracle": name,
        "trials": statistics.median(r["trials"] for r in runs),
        "epochs": statistics.median(r["epochs"] for r in runs),
        "best_at_budget_mean": statistics.fmean(at_budget),
        "best_at_budget_std": sample_std(at_budget),
        "final_best_mean": statistics.fmean(r["best_val_accuracy"] for r in runs),
        "reached_best": f"{len(reached)}/{len(runs)} seeds",
        "epochs_to_best_median": statistics.median(reached) if reached else None,
    }


def plot_curves(found: dict, budget: int, path, title: str) -> str:
    """Best validation accuracy so far against epochs spent: each oracle's median over seeds with its
    range, the grid's best (median over seeds) dashed, and the budget line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    horizon = max(r["epochs"] for r in found["runs"])
    grid = list(range(1, horizon + 1))
    for name in ORACLES:
        runs = [r for r in found["runs"] if r["oracle"] == name]
        values = [[best_at(r["curve"], e) or float("nan") for r in runs] for e in grid]
        lows = [min(v) for v in values]
        ax.step(grid, [statistics.median(v) for v in values], where="post", color=COLOURS[name], label=name)
        ax.fill_between(grid, lows, [max(v) for v in values], step="post", color=COLOURS[name], alpha=0.15)
    ax.axhline(statistics.median(s["grid_best"] for s in found["seeds"]), color="black", linestyle="--",
               label="grid's best (median over seeds)")  # fmt: skip
    ax.axvline(budget, color="gray", linestyle=":", label=f"{budget} epochs")
    top = max(s["grid_best"] for s in found["seeds"])
    ax.set(xlabel="epochs spent", ylabel="best validation accuracy so far", ylim=(top - 0.03, top + 0.003),
           title=f"{title}: keras-tuner oracles, median and range over {len(found['seeds'])} seeds")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


def notes(rows: list[dict], found: dict, budget: int, epochs: int) -> list[str]:
    """The observations, every figure read off the curves; a gap is judged against the seed spread."""
    by_name = {r["oracle"]: r for r in rows}
    grid = by_name["GridSearch"]
    full = GRID_SIZE * epochs
    points = sorted({s["grid_best_point"] for s in found["seeds"]})
    lines = [
        f"Grid search's pro, measured: it is certain. Having tried all {GRID_SIZE} points ({full} epochs) it holds "
        f"the grid's best with every seed ({grid['reached_best']}; best point: {'; '.join(points)}), and the same "
        "seed gives the same walk. Its con, measured: it learns nothing from its trials and walks the grid in a "
        f"fixed order, so it found the best only after a median {grid['epochs_to_best_median']:g} epochs, and the "
        "cost is the product of the values per hyperparameter (one more value of each would make it 4 x 3 x 3 = 36 "
        "points).",
    ]
    for name in ("RandomSearch", "BayesianOptimization", "Hyperband"):
        row = by_name[name]
        gap = row["best_at_budget_mean"] - grid["best_at_budget_mean"]
        judged = gap_against_spread(gap, [row["best_at_budget_std"], grid["best_at_budget_std"]])
        lines.append(
            f"{name} after {budget} epochs: {row['best_at_budget_mean']:.4f} against grid search's "
            f"{grid['best_at_budget_mean']:.4f} (means over seeds), a gap of {gap:+.4f}, which {judged}; it found "
            f"the grid's best with {row['reached_best']}"
            + (f", after a median {row['epochs_to_best_median']:g} epochs" if row["epochs_to_best_median"] else "")
            + f" ({row['epochs']:.0f} epochs in all)."
        )
    seconds = sum(s["table_seconds"] for s in found["seeds"])
    lines.append(
        f"Cost of this comparison: {seconds:.0f} s training the {GRID_SIZE} points once per seed on "
        f"{N_TRAIN:,} images for {epochs} epochs, and {found['oracle_seconds']:.0f} s for all the searches, "
        "which look their trials' scores up instead of training again (tuning/compare.py)."
    )
    return lines
