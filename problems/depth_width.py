"""Depth vs width on MNIST: 2018 2C/2D/2E = 2023 3B/3C/3D, one function for the three budgets.

The story of a run: flatten and scale the images, carve a validation split from the training set,
take the settings the budget's search chose (``reports/2018/<id>/search/search.json``), train the
budget's MLP with its validation curve once per seed, score the test set once per seed, and train the
course's sample model as a baseline row. With ``--tune`` the search runs first (BayesianOptimization,
``tuning/mlp_search.py``), its best trial and the hand-picked settings are compared over 3 seeds on
the validation split, and the choice is written to ``search/`` before the final training.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from data_prep.mnist import flatten, one_hot, to_float, validation_split
from models.budget import check_budget
from models.mlp import (
    BUDGETS,
    COST_CAP_TFLOP,
    HAND_PICKED,
    build_from_settings,
    build_sample_model,
    settings_from_values,
)
from problems.context import RunContext, git_commit
from problems.report import atomic_write_text, model_summary, plot_history
from training import validation_size
from training.backend import backend_record
from training.record import gap_against_spread, seed_metrics
from tuning.records import SEARCH_FILE, SEARCH_FOLDER, TRIALS_FILE, read_search, search_folder

COURSE_BATCH, COURSE_EPOCHS = 32, 10  # the starter's settings, used for the baseline row


def prepare(mnist, seed: int):
    """Flatten, scale to 0..1, one-hot; split off the validation set. Prints the shapes."""
    (x_train, y_train), (x_test, y_test) = mnist
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    x, x_test = flatten(to_float(x_train)), flatten(to_float(x_test))
    y, y_test = one_hot(y_train, num_classes), one_hot(y_test, num_classes)
    fit_split, val_split = validation_split(x, y, validation_size(len(x)), seed=seed)
    print(f"fit {fit_split[0].shape}, validation {val_split[0].shape}, test {x_test.shape}")
    return fit_split, val_split, (x_test, y_test), x_train.shape[1:]


# The baseline row is the same for the three budgets (same model, data, seed and epochs): trained once
# and kept as a file beside the search trials, so `--problem all` pays for it once instead of three
# times, even with the budgets in separate processes (--jobs). A reused row says so in the report.


def course_baseline(
    train, val, test, seed: int, epochs: int, cache_dir: Path | None = None, threads: int | None = None
) -> dict:
    """The course's sample model trained with the course's settings (``training.record.train_and_score``,
    like every scored model) and scored on ``test``."""
    import keras

    from training.record import train_and_score
    from tuning.common import data_key

    # The backend and its threads are part of what fixes the last digits.
    key = f"seed{seed}_e{epochs}_{keras.backend.backend()}_t{threads}_{data_key(*train, *val, *test)}"
    path = Path(cache_dir) / "course_baseline" / f"{key}.json" if cache_dir is not None else None
    baseline = _read_json(path) if path is not None else None
    if baseline is not None:
        baseline["reused"] = True
    else:
        with warnings.catch_warnings():  # Keras warns that a 1-unit softmax is constant: that is the point
            warnings.simplefilter("ignore", UserWarning)
            record, _ = train_and_score(
                build_sample_model, train, val, test, epochs=epochs, batch_size=COURSE_BATCH, seed=seed,
                threads=threads, verbose=0,
            )  # fmt: skip
        baseline = {
            "model": "course sample (Dense 10-10-1 softmax, mse, adadelta)",
            "test_loss": record.test_loss,
            "test_accuracy": record.test_accuracy,
            "val_accuracy": record.val_accuracy,
            "epochs": epochs,
            "batch_size": COURSE_BATCH,
            "train_seconds": record.train_seconds,
        }
        if path is not None:
            atomic_write_text(path, json.dumps(baseline) + "\n")
        baseline["reused"] = False
    print(f"course sample model: test accuracy {baseline['test_accuracy']:.4f} (a 1-unit softmax always outputs 1)")
    return baseline


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or unreadable: train it again
        return None


@dataclass
class Shipped:
    """The settings a run trains with and where they came from.

    Attributes:
        settings: ``models.mlp.settings_from_values`` of the chosen trial.
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


def run(ctx: RunContext, budget: str, goal: float) -> dict:
    """Train and score the MLP for ``budget`` ('2C', '2D' or '2E'), once per seed of ``ctx.seed_list``,
    with the settings its search chose (``--tune``: search and choose now)."""
    train, val, test, image_shape = prepare(ctx.mnist, ctx.seed)
    shipped = search_and_choose(ctx, budget, train, val, test, image_shape) if ctx.tune else read_shipped(budget)
    epochs = ctx.epochs or shipped.settings["epochs"]
    reuse = [r.seed for r in shipped.records[: ctx.seeds]] == ctx.seed_list
    if reuse:  # the chosen finalist's runs are this run's: same settings, data and seeds
        records, model = shipped.records[: ctx.seeds], build_mlp_for(shipped.settings, train, epochs)
        report = check_budget(model, BUDGETS[budget])
    else:
        records, model, report = train_settings(ctx, budget, shipped.settings, (train, val, test), epochs, image_shape)
    plots = list(shipped.plots)
    title = f"{ctx.edition} {ctx.problem_id}: {report.hidden_units} hidden units (seed {ctx.seed})"
    plots.append(plot_history(records[0].history, title, ctx.folder / "training_curves.png"))

    # The course's sample model, with the course's settings, as the baseline row.
    input_dim, num_classes = train[0].shape[1], train[1].shape[1]
    baseline = (
        course_baseline(train, val, test, ctx.seed, ctx.epochs or COURSE_EPOCHS, ctx.tuner_dir, ctx.threads)
        if input_dim == 784 and num_classes == 10
        else {}
    )
    # The project's goal is an MNIST figure: another data set is reported without it.
    metrics = seed_metrics(records, goal if ctx.on_write_up_data else None)
    metrics["search"] = search_summary(shipped.search)
    metrics["finalists"] = finalist_rows(shipped.search)
    notes = [choice_note(shipped)]
    if reuse:
        notes.append("The final runs are the chosen finalist's runs of this search (same settings and seeds).")
    if baseline.get("reused"):
        notes.append(
            "The course baseline row was reused from an earlier run with the same seed, data, epochs and "
            "threads (kept beside the search trials in the tuner folder): this run's wall time does not include it."
        )
    return {
        "metrics": metrics,
        **_record(budget, shipped, epochs, report, (train, val)),
        "per_seed": [r.figures() for r in records],
        "baseline": baseline,
        "notes": notes,
        "history": records[0].history,
        "params": model.count_params(),
        "model_summary": model_summary(model),
        "plots": plots,
        "data": ctx.mnist_description,
    }


def build_mlp_for(settings: dict, train, epochs: int, name: str = "mlp"):
    """The compiled MLP of ``settings``, shaped for ``train`` and scheduled over ``epochs``."""
    return build_from_settings(settings, len(train[0]), epochs, train[0].shape[1], train[1].shape[1], name=name)


def train_settings(
    ctx: RunContext, budget: str, settings: dict, split, epochs: int, image_shape, seeds=None, label: str | None = None
):
    """Train and score ``settings`` once per seed (default ``ctx.seed_list``): (records, first model,
    budget report). Every model is checked against the budget before it trains."""
    train, val, test = split
    found = []
    records, model = ctx.train_over_seeds(
        lambda: build_mlp_for(settings, train, epochs, name=f"mlp_{budget.lower()}"),
        train,
        val,
        test,
        seeds,
        label,
        # The final runs log to TensorBoard as "final"; the finalists (seeds given) do not.
        final_logs=seeds is None,
        epochs=epochs,
        batch_size=settings["batch_size"],
        shift=settings["shift"],
        settings={k: settings[k] for k in ("learning_rate", "schedule", "dropout_input", "dropout")},
        check=lambda m: found.append(check_budget(m, BUDGETS[budget])),
        image_shape=image_shape,
    )
    return records, model, found[0]


def _record(budget: str, shipped: Shipped, epochs: int, report, split) -> dict:
    """What the result says of the settings and the budget."""
    train, val = split
    return {
        "hyperparameters": {
            **shipped.settings,
            "hidden_units": list(report.hidden_units),
            "epochs": epochs,
            "optimizer": "Adam" + (", cosine decay to 0" if shipped.settings["schedule"] == "cosine" else ""),
            "search_trial": shipped.trial_id,
            "source": f"trial {shipped.trial_id} of the keras-tuner search in reports/2018/{budget}/search/ "
            "(search.json: chosen_trial_id)",
            "validation_images": len(val[0]),
            "fit_images": len(train[0]),
        },
        "budget": {
            "max_hidden_units": BUDGETS[budget].max_hidden_units,
            "min_hidden_layers": BUDGETS[budget].min_hidden_layers,
            "hidden_units_used": report.total_hidden_units,
            "hidden_layers_used": report.hidden_layers,
            "cost_cap_tflop": COST_CAP_TFLOP[budget],
        },
        "epochs": epochs,
    }


def read_shipped(budget: str) -> Shipped:
    """The settings of the trial the committed search of ``budget`` chose (``tuning.records``)."""
    record = read_search(budget)
    return Shipped(settings_from_values(record["chosen"]["values"], BUDGETS[budget]), record["chosen_trial_id"], record)


def search_summary(search: dict) -> dict:
    """The search in a few figures, for result.json's metrics."""
    keys = (
        "oracle",
        "max_trials",
        "num_initial_points",
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
    return {k: search.get(k) for k in keys}


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


# --tune: search, compare the finalists over seeds on the validation split, record the choice.

FINALIST_SEEDS = 3


def search_and_choose(ctx: RunContext, budget: str, train, val, test, image_shape) -> Shipped:
    """Run the budget's search (``tuning.mlp_search``; spread over ``ctx.jobs`` worker processes),
    train its best trial and the hand-picked trial with ``FINALIST_SEEDS`` seeds, choose on validation
    accuracy, and write ``search/trials.csv``, ``search/search.json`` and ``search/best_so_far.png``
    in the report folder. The search's best ships unless the hand-picked trial beats it by more than
    the seed spread."""
    from problems.report import plot_best_so_far
    from tuning.mlp_search import search_mlp

    started = time.perf_counter()
    table, search = search_mlp(
        budget,
        BUDGETS[budget],
        COST_CAP_TFLOP[budget],
        HAND_PICKED[budget],
        train,
        val,
        ctx.seed,
        ctx.tuner_dir,
        trials=ctx.trials,
        epochs=ctx.epochs,
        verbose=ctx.verbose,
        image_shape=image_shape,
        tensorboard=ctx.tensorboard_dir("search"),
        worker_timeout=ctx.worker_timeout,
        workers=ctx.search_workers,
    )
    search_seconds = time.perf_counter() - started
    finalists, runs = run_finalists(ctx, budget, search, (train, val, test), image_shape)
    chosen, why = choose(finalists)
    record = {
        **search,
        "seed": ctx.seed,
        "backend": backend_record(ctx.threads),
        "workers": ctx.jobs if ctx.search_workers else 1,
        "wall_seconds": round(search_seconds, 1),
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
    title = f"{ctx.edition} {ctx.problem_id}: BayesianOptimization, best so far"
    plot = plot_best_so_far(table, title, folder / "best_so_far.png", search["num_initial_points"])
    atomic_write_text(folder / SEARCH_FILE, json.dumps(record, indent=2, default=str) + "\n")
    print(f"search: chose trial {chosen['trial']}: {why}", flush=True)
    settings = settings_from_values(chosen["values"], BUDGETS[budget])
    return Shipped(settings, chosen["trial"], record, runs[chosen["trial"]], [f"{SEARCH_FOLDER}/{plot}"])


def run_finalists(ctx: RunContext, budget: str, search: dict, split, image_shape) -> tuple[list[dict], dict]:
    """Train the search's best trial and the hand-picked one (when it is another trial) with
    ``FINALIST_SEEDS`` seeds: (finalist entries for search.json, {trial id: records})."""
    candidates = [("search's best", search["best_trial_id"], search["best_values"])]
    if search["hand_picked_trial_id"] not in (None, search["best_trial_id"]):
        candidates.append(("hand-picked", search["hand_picked_trial_id"], HAND_PICKED[budget]))
    seeds = [ctx.seed + k for k in range(FINALIST_SEEDS)]
    finalists, runs = [], {}
    for role, trial_id, values in candidates:
        settings = settings_from_values(values, BUDGETS[budget])
        print(f"finalist trial {trial_id} ({role}), seeds {seeds}: {settings}", flush=True)
        epochs = ctx.epochs or settings["epochs"]
        label = f"{ctx.problem_id} finalist {trial_id}"
        runs[trial_id], _, _ = train_settings(ctx, budget, settings, split, epochs, image_shape, seeds, label)
        accuracies = [r.val_accuracy for r in runs[trial_id]]
        finalists.append(
            {
                "trial": trial_id,
                "role": role,
                "values": dict(values),
                "settings": settings,
                "summary": settings_summary(settings),
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
                ],
            }
        )
    return finalists, runs


def choose(finalists: list[dict]) -> tuple[dict, str]:
    """The finalist that ships and why: the search's best, unless the hand-picked trial's mean
    validation accuracy is higher by more than the seed spread (the larger of the two std)."""
    best = finalists[0]
    if len(finalists) == 1:
        return best, "The search's best trial is the hand-picked settings' trial, so it ships."
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


def settings_summary(settings: dict) -> str:
    """One line of settings for a table."""
    return (
        f"{list(settings['hidden_units'])}, dropout {settings['dropout_input']}/{settings['dropout']}, "
        f"lr {settings['learning_rate']:.2e} {settings['schedule']}, shift {settings['shift']}, "
        f"{settings['epochs']} x {settings['batch_size']}"
    )
