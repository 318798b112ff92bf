"""The CNN problem (2018 3D, 2023 4F): a dropout sweep, then the final model for 10 epochs.

The story of a run: carve a validation split from the training images; run the edition's dropout
sweep as a keras-tuner search (``tuning/dropout_sweep.py``: one trial per rate p, our final
architecture trained for 1 epoch at batch size 32, ``--repeats N`` seeded executions per trial,
scored on the validation split; resumable); pick the best p that keeps a Dropout layer; train the
final model with it for 10 epochs at batch size 32; score the test set once. With ``--tune`` the
final model's settings come from a Hyperband search instead (``tuning/cnn_search.py``), and its
best configuration is retrained on the training split and tested once.

What p = 1.0 means: Keras 2.1.3 (the 2018 stack) applied dropout only when 0 < rate < 1, so the
write-up's p = 1.0 silently trained with no dropout at all (hence its 0.985, like p = 0). Keras 3.15
accepts ``Dropout(1.0)`` and zeroes every activation in training (tested), which would leave the
output independent of the input. Here p = 1.0 keeps the 2018 meaning explicitly: the model is built
with no Dropout layer, and the report says so.
"""

from __future__ import annotations

from data_prep.mnist import one_hot, to_float, validation_split
from models.cnn import (
    BATCH_SIZE,
    FINAL_EPOCHS,
    FINAL_SETTINGS,
    SWEEP_EPOCHS,
    build_cnn_final,
    build_cnn_hp,
    check_cnn_constraints,
)
from problems.context import RunContext
from problems.parallel import RELEASE
from problems.report import atomic_write_text, model_summary, plot_history, pyplot, save_figure
from training import fit, steps_per_epoch, validation_size
from training.record import gap_against_spread, seed_metrics
from tuning.common import data_key

SWEEPS = {
    "2018": [round(0.1 * i, 1) for i in range(1, 11)],  # 0.1 ... 1.0, as the 2018 write-up ran it
    "2023": [round(0.1 * i, 1) for i in range(0, 10)],  # 0.0 ... 0.9, as the 2023 write-up ran it
}
P_ONE_MEANING = (
    "p = 1.0 follows Keras 2.1.3 (the 2018 stack), which applied dropout only when 0 < rate < 1: the model "
    "is built with no Dropout layer. Neither p = 1.0 nor p = 0.0 (the identity) is a candidate for the final "
    "model, which needs a Dropout layer that drops something. (Keras 3.15's "
    "Dropout(1.0) would zero every activation in training instead.)"
)


def build_for(p: float, train, decay_steps: int | None = None):
    """Our final architecture at dropout rate ``p`` (p >= 1: no Dropout layer), shaped for ``train``."""
    return build_cnn_final(
        dropout=None if p >= 1.0 else p,
        learning_rate=FINAL_SETTINGS["learning_rate"],
        decay_steps=decay_steps,
        input_shape=train[0].shape[1:],
        num_classes=train[1].shape[1],
    )


def _fit(model, train, val, epochs: int, seed: int, verbose: int, callbacks=None, shift=None):
    return fit(
        model,
        train,
        val,
        epochs,
        BATCH_SIZE,
        seed,
        shift=FINAL_SETTINGS["shift"] if shift is None else shift,
        verbose=verbose,
        callbacks=callbacks,
        image_shape=train[0].shape[1:3],
    )


def prepare(mnist, seed: int, test_as_validation: bool):
    """Images as (n, 28, 28, 1) floats in 0..1, one-hot labels; the validation split (or the test set)."""
    (x_train, y_train), (x_test, y_test) = mnist
    x, y = to_float(x_train)[..., None], one_hot(y_train)
    test = (to_float(x_test)[..., None], one_hot(y_test))
    if test_as_validation:  # the starter notebook's choice: every image trains, the test set validates
        return (x, y), test, test
    train, val = validation_split(x, y, validation_size(len(x)), seed=seed)
    return train, val, test


def sweep(ctx: RunContext, train, val, rates, epochs: int) -> list[dict]:
    """The dropout sweep as a keras-tuner search: one trial per rate, ``ctx.repeats`` seeded executions
    each, scored on ``val``. Trials live under ``ctx.tuner_dir`` in a project named by everything that
    changes the numbers, so an interrupted sweep rerun with the same command resumes."""
    from tuning.dropout_sweep import sweep_search

    project = (
        f"dropout_{ctx.edition}_{ctx.problem_id}_seed{ctx.seed}_e{epochs}_r{ctx.repeats}_"
        f"{data_key(*train, *val)}_{_settings_key(train)}"
    )
    rows = sweep_search(
        rates,
        build=lambda p: build_for(p, train),
        fit=lambda model, seed, callbacks: _fit(model, train, val, epochs, seed, verbose=0, callbacks=callbacks),
        val=val,
        repeats=ctx.repeats,
        seed=ctx.seed,
        directory=ctx.tuner_dir,
        project=project,
        tensorboard=ctx.tensorboard_dir("dropout_sweep"),
        verbose=ctx.verbose,
        worker_timeout=ctx.worker_timeout,
        workers=ctx.search_workers,
    )
    for row in rows:
        print(
            f"p={row['p']:.1f}: val accuracy {row['val_accuracy']:.4f} +- {row['val_accuracy_std']:.4f}, "
            f"loss {row['val_loss']:.4f}",
            flush=True,
        )
    return rows


def choose_rate(rows: list[dict]) -> float:
    """The sweep's best p by validation accuracy among 0 < p < 1: the final model needs a Dropout layer
    that drops something, so p = 0 (the identity) and p = 1 (no layer) cannot be chosen."""
    return max((r for r in rows if 0 < r["p"] < 1), key=lambda r: r["val_accuracy"])["p"]


def choice_note(rows: list[dict], chosen: float) -> str:
    """The chosen rate against the runner-up, and whether the gap exceeds the spread over the repeats."""
    candidates = sorted((r for r in rows if 0 < r["p"] < 1), key=lambda r: -r["val_accuracy"])
    if len(candidates) < 2:
        return f"p = {chosen} was the only candidate."
    best, second = candidates[0], candidates[1]
    repeats = best.get("runs", 1)
    spreads = [r["val_accuracy_std"] if repeats > 1 else None for r in (best, second)]
    gap = best["val_accuracy"] - second["val_accuracy"]
    return (
        f"Chosen p = {chosen}: validation accuracy {best['val_accuracy']:.4f} after the sweep's epoch against "
        f"{second['val_accuracy']:.4f} for the runner-up p = {second['p']} ({repeats} seed(s) a point): a gap of "
        f"{gap:+.4f}, which {gap_against_spread(gap, spreads)}."
    )


def _settings_key(train) -> str:
    """A fingerprint of what the sweep trains (settings, batch size, layer types, parameter count), so
    that saved trials are reused only while the model and its training are unchanged."""
    import hashlib

    model = build_for(0.5, train)
    described = repr((sorted(FINAL_SETTINGS.items()), BATCH_SIZE, [type(layer).__name__ for layer in model.layers]))
    return hashlib.sha256(f"{described}{model.count_params()}".encode()).hexdigest()[:6]


def write_sweep_table(rows, path) -> None:
    """The sweep's trials table, one row per rate sorted by rate (``tuning_trials.csv``)."""
    import pandas as pd

    # Through atomic_write_text: it creates the report folder, which a fresh --out does not have yet.
    atomic_write_text(path, pd.DataFrame(rows).sort_values("p").to_csv(index=False))


def plot_sweep(rows, title: str, path) -> str:
    plt = pyplot()

    ps = [r["p"] for r in rows]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_acc.errorbar(
        ps, [r["val_accuracy"] for r in rows], yerr=[r["val_accuracy_std"] for r in rows], marker="o", capsize=3
    )
    ax_loss.errorbar(
        ps,
        [r["val_loss"] for r in rows],
        yerr=[r["val_loss_std"] for r in rows],
        marker="o",
        capsize=3,
        color="tab:red",
    )
    ax_acc.set(xlabel="dropout rate p", ylabel="accuracy", title="accuracy after 1 epoch")
    ax_loss.set(xlabel="dropout rate p", ylabel="cross-entropy", title="loss after 1 epoch")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return save_figure(fig, path)


def run(ctx: RunContext, goal: float) -> dict:
    """Dropout sweep (or, with ``--tune``, the Hyperband search) and final CNN for ``ctx.edition``;
    ``goal`` is the project's test-accuracy goal."""
    train, val, test = prepare(ctx.mnist, ctx.seed, ctx.test_as_validation)
    scored_on = (
        "test set (starter notebook's choice)"
        if ctx.test_as_validation
        else f"validation split ({len(val[0])} training images)"
    )
    print(f"fit {train[0].shape}, validation: {scored_on}, test {test[0].shape}")
    if ctx.tune:
        return run_tuned(ctx, goal, train, val, test, scored_on)
    rates = SWEEPS[ctx.edition]
    sweep_epochs = SWEEP_EPOCHS if ctx.epochs is None else min(ctx.epochs, SWEEP_EPOCHS)
    rows = sweep(ctx, train, val, rates, sweep_epochs)
    print(f"{RELEASE} the sweep is done; the final model trains in this process alone", flush=True)
    write_sweep_table(rows, ctx.folder / "tuning_trials.csv")
    chosen = choose_rate(rows)
    print(f"chosen p = {chosen} (best validation accuracy among 0 < p < 1)")
    plots = [
        plot_sweep(
            rows,
            f"{ctx.edition} {ctx.problem_id}: dropout sweep ({ctx.repeats} seed(s) a point)",
            ctx.folder / "dropout_sweep.png",
        )
    ]

    epochs = ctx.epochs or FINAL_EPOCHS
    decay_steps = epochs * steps_per_epoch(len(train[0]), BATCH_SIZE)
    records, model, constraints = train_final(
        ctx,
        lambda: build_for(chosen, train, decay_steps=decay_steps),
        train,
        val,
        test,
        epochs,
        FINAL_SETTINGS["shift"],
    )
    plots.append(
        plot_history(
            records[0].history,
            f"{ctx.edition} {ctx.problem_id}: final CNN, p = {chosen} (seed {ctx.seed})",
            ctx.folder / "training_curves.png",
        )
    )
    return {
        "metrics": {
            # The project's goal is an MNIST figure: another data set is reported without it.
            **seed_metrics(records, goal if ctx.on_write_up_data else None),
            "chosen_dropout": chosen,
            "sweep": rows,
        },
        "hyperparameters": {
            "dropout": chosen,
            "batch_size": BATCH_SIZE,
            "epochs": epochs,
            "sweep_epochs": sweep_epochs,
            "sweep_rates": rates,
            "repeats": ctx.repeats,
            "sweep_search": "keras-tuner, one trial per rate (ExplicitListOracle), executions_per_trial = repeats; "
            "trials in tuning_trials.csv",
            "optimizer": "Adam, cosine decay to 0",
            **FINAL_SETTINGS,
            "validation": scored_on,
        },
        "notes": [choice_note(rows, chosen), P_ONE_MEANING],
        **_final_model_record(ctx, model, constraints, records, epochs, plots),
    }


def train_final(ctx: RunContext, build, train, val, test, epochs: int, shift: int):
    """The final model trained and scored once per seed of ``ctx.seed_list`` (``training.record``);
    returns (records, the first seed's model, its constraint check)."""
    constraints = []
    records, model = ctx.train_over_seeds(
        build,
        train,
        val,
        test,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        shift=shift,
        check=lambda m: constraints.append(check_cnn_constraints(m)),
        image_shape=train[0].shape[1:3],
    )
    return records, model, constraints[0]


def _final_model_record(ctx: RunContext, model, constraints: dict, records: list, epochs: int, plots: list) -> dict:
    """What every final CNN's result carries besides its metrics and settings."""
    return {
        "per_seed": [r.figures() for r in records],
        "constraints": constraints,
        "history": records[0].history,
        "params": model.count_params(),
        "model_summary": model_summary(model),
        "epochs": epochs,
        "plots": plots,
        "data": ctx.mnist_description,
    }


def run_tuned(ctx: RunContext, goal: float, train, val, test, scored_on: str) -> dict:
    """``--tune``: Hyperband over ``models.cnn.build_cnn_hp`` on the validation split, then the best
    configuration retrained on the training split for the final epochs and tested once."""
    from problems.report import plot_best_so_far
    from tuning.cnn_search import FACTOR, MAX_EPOCHS, cost, search_cnn
    from tuning.common import best_so_far, describe_search, trials_table

    max_epochs = ctx.epochs or MAX_EPOCHS
    project = (
        f"cnn_{ctx.edition}_{ctx.problem_id}_seed{ctx.seed}_e{max_epochs}_t{ctx.trials or 0}_{data_key(*train, *val)}"
    )
    best, tuner = search_cnn(
        train,
        val,
        ctx.seed,
        ctx.tuner_dir,
        project,
        BATCH_SIZE,
        trials=ctx.trials,
        epochs=max_epochs,
        tensorboard=ctx.tensorboard_dir("search"),
        verbose=ctx.verbose,
        worker_timeout=ctx.worker_timeout,
        workers=ctx.search_workers,
    )
    table = trials_table(tuner)
    atomic_write_text(ctx.folder / "tuning_trials.csv", table.to_csv(index=False))
    spent = cost(tuner)
    search = {
        **describe_search(tuner, len(table)),
        **spent,
        "budget": f"Hyperband max_epochs={max_epochs}, factor={FACTOR}"
        + (f", at most {ctx.trials} trials" if ctx.trials else "")
        + f": {spent['fits']} fits, {spent['epochs']} epochs trained on the validation split",
        "best_val_accuracy": float(tuner.oracle.get_best_trials(1)[0].score),
    }
    print(f"search: {search['budget']}; best validation accuracy {search['best_val_accuracy']:.4f}: {best.values}")
    plots = [
        plot_best_so_far(
            table, f"{ctx.edition} {ctx.problem_id}: Hyperband, best so far", ctx.folder / "best_so_far.png"
        )
    ]

    epochs = ctx.epochs or FINAL_EPOCHS
    decay_steps = epochs * steps_per_epoch(len(train[0]), BATCH_SIZE)
    records, model, constraints = train_final(
        ctx,
        lambda: build_cnn_hp(
            best, decay_steps=decay_steps, input_shape=train[0].shape[1:], num_classes=train[1].shape[1]
        ),
        train,
        val,
        test,
        epochs,
        best.values["shift"],
    )
    plots.append(
        plot_history(
            records[0].history, f"{ctx.edition} {ctx.problem_id}: tuned CNN", ctx.folder / "training_curves.png"
        )
    )
    chosen = {k: v for k, v in best.values.items() if not k.startswith("tuner/")}
    return {
        "metrics": {
            **seed_metrics(records, goal if ctx.on_write_up_data else None),
            "search": search,
            "best_so_far": best_so_far(table),
        },
        "hyperparameters": {
            **chosen,
            "batch_size": BATCH_SIZE,
            "epochs": epochs,
            "optimizer": "Adam, cosine decay to 0",
            "source": f"keras-tuner {search['budget']} (tuning_trials.csv)",
            "validation": scored_on,
        },
        **_final_model_record(ctx, model, constraints, records, epochs, plots),
    }
