"""Depth vs width on MNIST: 2018 2C/2D/2E = 2023 3B/3C/3D, one function for the three budgets.

The story of a run: flatten and scale the images, carve a validation split from the training set,
take the settings the budget's search chose (``reports/2018/<id>/search/search.json``), train the
budget's MLP with its validation curve once per seed, score the test set once per seed, and replay the
course's sample model with the course's settings under the same seeds, beside the write-up's figure
(``problems.replays.comparison_rows``). With ``--tune`` the search runs first (BayesianOptimization,
``tuning/mlp_search.py``), its best trial and the hand-picked settings are compared over 3 seeds on
the validation split, and the choice is written to ``search/`` before the final training.
"""

from __future__ import annotations

import json
import time
import warnings
from functools import partial
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
from problems.context import RunContext
from problems.registry import lookup
from problems.replays import comparison_rows, summarise
from problems.report import atomic_write_text, model_summary, plot_history
from problems.search_choice import Shipped, choice_note, finalist_rows, record_choice, reuse_note, search_summary
from training import validation_size
from training.files import read_json_or_none
from training.record import seed_metrics
from tuning.records import read_search

COURSE_BATCH, COURSE_EPOCHS = 32, 10  # the starter's settings, used for the course sample's replay


def prepare(mnist, seed: int):
    """Flatten, scale to 0..1, one-hot; split off the validation set. Prints the shapes."""
    (x_train, y_train), (x_test, y_test) = mnist
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    x, x_test = flatten(to_float(x_train)), flatten(to_float(x_test))
    y, y_test = one_hot(y_train, num_classes), one_hot(y_test, num_classes)
    fit_split, val_split = validation_split(x, y, validation_size(len(x)), seed=seed)
    print(f"fit {fit_split[0].shape}, validation {val_split[0].shape}, test {x_test.shape}")
    return fit_split, val_split, (x_test, y_test), x_train.shape[1:]


# The course sample's run is the same for the three budgets (same model, data, seed and epochs): trained
# once per seed and kept as a file beside the search trials, so `--problem all` pays for it once instead
# of three times, even with the budgets in separate processes (--jobs). A reused run says so in the report.


def course_baseline(
    train, val, test, seed: int, epochs: int, cache_dir: Path | None = None, threads: int | None = None
) -> dict:
    """The course's sample model trained with the course's settings (``training.record.train_and_score``,
    like every scored model) and scored on ``test``."""
    from training.backend import numerics_key
    from training.record import train_and_score
    from tuning.common import data_key

    key = f"seed{seed}_e{epochs}_{numerics_key(threads)}_{data_key(*train, *val, *test)}"
    path = Path(cache_dir) / "course_baseline" / f"{key}.json" if cache_dir is not None else None
    baseline = read_json_or_none(path) if path is not None else None
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


def course_replay(ctx: RunContext, split, epochs: int) -> dict:
    """The course's sample model (``course_baseline``) once per seed of the run: result.json's entry."""
    per_seed, reused = [], []
    for seed in ctx.seed_list:
        run = course_baseline(*split, seed, epochs, ctx.tuner_dir, ctx.threads)
        per_seed.append({"seed": seed, **{k: run[k] for k in ("test_accuracy", "test_loss", "val_accuracy")}})
        if run["reused"]:
            reused.append(seed)
    return {
        "key": "course_sample",
        "model": "the course's sample MLP (Dense 10 relu, Dropout 0.4, Dense 10 relu, Dense 1 softmax)",
        "settings": {"training": "adadelta (Keras defaults), mean squared error", "epochs": epochs,
                     "batch_size": COURSE_BATCH},
        "reported_test_accuracy": None,
        "reported_by": "",
        **summarise(per_seed),
        "per_seed": per_seed,
        "reused_seeds": reused,
    }  # fmt: skip


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

    # The project's goal is an MNIST figure: another data set is reported without it.
    metrics = seed_metrics(records, goal if ctx.on_write_up_data else None)
    metrics["search"] = search_summary(shipped.search)
    metrics["finalists"] = finalist_rows(shipped.search)
    notes = [choice_note(shipped)]
    if reuse:
        notes.append(reuse_note())
    # The course's sample model, with the course's settings, replayed beside ours (MNIST only).
    replays = []
    if ctx.on_write_up_data:
        replays = [course_replay(ctx, (train, val, test), ctx.epochs or COURSE_EPOCHS)]
        reported = lookup(ctx.edition, ctx.problem_id).reported.get(ctx.edition, {})
        metrics["against the write-ups"] = comparison_rows(replays, metrics, reported.get("test_accuracy"))
        if replays[0]["reused_seeds"]:
            notes.append(
                "The course sample's runs were reused from an earlier run with the same seed, data, epochs and threads "
                "(kept beside the search trials in the tuner folder): this run's wall time does not include them."
            )
    return {
        "metrics": metrics,
        **_record(budget, shipped, epochs, report, (train, val)),
        "per_seed": [r.figures() for r in records],
        "replays": replays,
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
        partial(build_mlp_for, settings, train, epochs, name=f"mlp_{budget.lower()}"),
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
        rotation=settings["rotation"],
        zoom=settings["zoom"],
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


# --tune: search, compare the finalists over seeds on the validation split, record the choice.


def search_and_choose(ctx: RunContext, budget: str, train, val, test, image_shape) -> Shipped:
    """Run the budget's search (``tuning.mlp_search``; spread over ``ctx.jobs`` worker processes),
    then let ``problems.search_choice`` train its best trial and the hand-picked trial over seeds,
    choose on validation accuracy and write ``search/``."""
    from training.backend import numerics_key
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
        numerics=numerics_key(ctx.threads),
    )
    seconds = time.perf_counter() - started
    candidates = [("search's best", search["best_trial_id"], search["best_values"])]
    if search["hand_picked_trial_id"] not in (None, search["best_trial_id"]):
        candidates.append(("hand-picked", search["hand_picked_trial_id"], HAND_PICKED[budget]))

    def train_finalist(settings, seeds, label):
        epochs = ctx.epochs or settings["epochs"]
        return train_settings(ctx, budget, settings, (train, val, test), epochs, image_shape, seeds, label)[0]

    def describe(values):
        settings = settings_from_values(values, BUDGETS[budget])
        return settings, settings_summary(settings)

    return record_choice(
        ctx, search, table, seconds, candidates, train_finalist, describe, guided_from=search["num_initial_points"]
    )


def settings_summary(settings: dict) -> str:
    """One line of settings for a table."""
    warp = (
        f"rotation {settings['rotation']}, zoom {settings['zoom']}, "
        if settings["rotation"] or settings["zoom"]
        else ""
    )
    return (
        f"{list(settings['hidden_units'])}, dropout {settings['dropout_input']}/{settings['dropout']}, "
        f"lr {settings['learning_rate']:.2e} {settings['schedule']}, shift {settings['shift']}, {warp}"
        f"{settings['epochs']} x {settings['batch_size']}"
    )
