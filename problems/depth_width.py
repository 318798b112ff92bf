"""Depth vs width on MNIST: 2018 2C/2D/2E = 2023 3B/3C/3D, one function for the three budgets.

The story of a run: flatten and scale the images, carve a validation split from the training set,
take the tuned settings (or search for them with ``--tune``), train the budget's MLP with its
validation curve, score the test set once, and train the course's sample model as a baseline row.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from data_prep.mnist import flatten, one_hot, to_float, validation_split
from models.budget import check_budget
from models.mlp import BUDGETS, TUNED, build_mlp, build_sample_model
from problems.context import RunContext
from problems.report import atomic_write_text, model_summary, plot_history
from training import EVAL_BATCH_SIZE, set_seed, steps_per_epoch, validation_size
from training.record import seed_metrics

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
    train, test, seed: int, epochs: int, cache_dir: Path | None = None, threads: int | None = None
) -> dict:
    """The course's sample model trained with the course's settings and scored on ``test``."""
    import keras

    from tuning.common import data_key

    # The backend and its threads are part of what fixes the last digits.
    key = f"seed{seed}_e{epochs}_{keras.backend.backend()}_t{threads}_{data_key(*train, *test)}"
    path = Path(cache_dir) / "course_baseline" / f"{key}.json" if cache_dir is not None else None
    baseline = _read_json(path) if path is not None else None
    if baseline is not None:
        baseline["reused"] = True
    else:
        set_seed(seed)
        sample = build_sample_model()
        with warnings.catch_warnings():  # Keras warns that a 1-unit softmax is constant: that is the point
            warnings.simplefilter("ignore", UserWarning)
            sample.fit(*train, batch_size=COURSE_BATCH, epochs=epochs, verbose=0)
            loss, acc = sample.evaluate(*test, batch_size=EVAL_BATCH_SIZE, verbose=0)
        baseline = {
            "model": "course sample (Dense 10-10-1 softmax, mse, adadelta)",
            "test_loss": loss,
            "test_accuracy": acc,
            "epochs": epochs,
            "batch_size": COURSE_BATCH,
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


def run(ctx: RunContext, budget: str, goal: float) -> dict:
    """Train and score the MLP for ``budget`` ('2C', '2D' or '2E'), once per seed of ``ctx.seed_list``."""
    train, val, test, image_shape = prepare(ctx.mnist, ctx.seed)
    input_dim, num_classes = train[0].shape[1], train[1].shape[1]
    settings, source, plots, tuned = _settings(ctx, budget, train, val, image_shape)
    epochs, batch = ctx.epochs or settings["epochs"], settings["batch_size"]
    found = []

    def build():
        return build_mlp(
            settings["hidden_units"],
            settings["dropout_input"],
            settings["dropout"],
            settings["learning_rate"],
            decay_steps=epochs * steps_per_epoch(len(train[0]), batch),
            input_dim=input_dim,
            num_classes=num_classes,
            name=f"mlp_{budget.lower()}",
        )

    records, model = ctx.train_over_seeds(
        build,
        train,
        val,
        test,
        epochs=epochs,
        batch_size=batch,
        shift=settings["shift"],
        check=lambda m: found.append(check_budget(m, BUDGETS[budget])),
        image_shape=image_shape,
    )
    report = found[0]
    plots.append(
        plot_history(
            records[0].history,
            f"{ctx.edition} {ctx.problem_id}: {report.hidden_units} hidden units (seed {ctx.seed})",
            ctx.folder / "training_curves.png",
        )
    )

    # The course's sample model, with the course's settings, as the baseline row.
    baseline = (
        course_baseline(train, test, ctx.seed, ctx.epochs or COURSE_EPOCHS, ctx.tuner_dir, ctx.threads)
        if input_dim == 784 and num_classes == 10
        else {}
    )
    # The project's goal is an MNIST figure: another data set is reported without it.
    metrics = seed_metrics(records, goal if ctx.on_write_up_data else None)
    return {
        "metrics": {**metrics, **tuned},
        **_record(ctx, budget, settings, source, epochs, report, (train, val)),
        "per_seed": [r.figures() for r in records],
        "baseline": baseline,
        "notes": [
            "The course baseline row was reused from an earlier run with the same seed, data, epochs and "
            "threads (kept beside the search trials in the tuner folder): this run's wall time does not include it."
        ]
        if baseline.get("reused")
        else [],
        "history": records[0].history,
        "params": model.count_params(),
        "model_summary": model_summary(model),
        "plots": plots,
        "data": ctx.mnist_description,
    }


def _record(ctx: RunContext, budget: str, settings: dict, source: str, epochs: int, report, split) -> dict:
    """What the result says of the settings and the budget."""
    train, val = split
    return {
        "hyperparameters": {
            **settings,
            "hidden_units": list(report.hidden_units),
            "epochs": epochs,
            "optimizer": "Adam, cosine decay to 0",
            "source": source,
            "schedule_source": "epochs and batch size chosen on the validation split (models/mlp.py SCHEDULES; "
            "python benchmarks/speed.py --only schedules)",
            "validation_images": len(val[0]),
            "fit_images": len(train[0]),
        },
        "budget": {
            "max_hidden_units": BUDGETS[budget].max_hidden_units,
            "min_hidden_layers": BUDGETS[budget].min_hidden_layers,
            "hidden_units_used": report.total_hidden_units,
            "hidden_layers_used": report.hidden_layers,
        },
        "epochs": epochs,
    }


def _settings(ctx: RunContext, budget: str, train, val, image_shape) -> tuple[dict, str, list, dict]:
    """(settings, where they came from, plots, search figures): the stored ``TUNED`` settings, or with
    ``--tune`` the best of a BayesianOptimization search on the validation split."""
    settings, source = dict(TUNED[budget]), "stored (models/mlp.py TUNED)"
    if not ctx.tune:
        return settings, source, [], {}
    from problems.report import plot_best_so_far
    from tuning.common import best_so_far
    from tuning.mlp_search import search_mlp

    found, table, search = search_mlp(
        budget,
        BUDGETS[budget],
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
    )
    atomic_write_text(ctx.folder / "tuning_trials.csv", table.to_csv(index=False))
    settings.update(found)
    title = f"{ctx.edition} {ctx.problem_id}: BayesianOptimization, best so far"
    plots = [plot_best_so_far(table, title, ctx.folder / "best_so_far.png", search["num_initial_points"])]
    print(f"best settings on validation: {found}")
    return (
        settings,
        f"keras-tuner {search['budget']} (tuning_trials.csv)",
        plots,
        {"search": search, "best_so_far": best_so_far(table)},
    )
