"""The CNN problem (2018 3D, 2023 4F): a dropout sweep, then the final model for 10 epochs.

The story of a run: carve a validation split from the training images; take the settings the CNN's
search chose (``reports/2018/3D/search/search.json``: filters, Dense width, downsampling, where
Dropout goes, learning rate, augmentation); run the edition's dropout sweep on that model as a
keras-tuner search (``tuning/dropout_sweep.py``: one trial per rate p, 1 epoch at batch size 32,
``--repeats N`` seeded executions per trial, scored on the validation split; resumable); pick the best
p that keeps a Dropout layer, as the problem asks; train the model with it for 10 epochs at batch size
32 once per seed and score the test set once per seed. With ``--tune`` the search runs first
(Hyperband, ``tuning/cnn_search.py``), its best configuration and the hand-picked one are compared
over 3 seeds of the full training on the validation split (``problems/search_choice.py``), and the
choice is written to ``search/``. Every setting thus comes from a recorded search: the rate from the
sweep (the problem's own search), the rest from Hyperband; the report gives the rate Hyperband's
trial had beside the sweep's.

What p = 1.0 means: Keras 2.1.3 (the 2018 stack) applied dropout only when 0 < rate < 1, so the
write-up's p = 1.0 silently trained with no dropout at all (hence its 0.985, like p = 0). Keras 3.15
accepts ``Dropout(1.0)`` and zeroes every activation in training (tested), which would leave the
output independent of the input. Here p = 1.0 keeps the 2018 meaning explicitly: the model is built
with no Dropout layer, and the report says so.
"""

from __future__ import annotations

from functools import partial

from data_prep.mnist import one_hot, to_float, validation_split
from models.cnn import (
    BATCH_SIZE,
    FINAL_EPOCHS,
    HAND_PICKED,
    SWEEP_EPOCHS,
    build_cnn_from_values,
    check_cnn_constraints,
)
from problems.context import RunContext
from problems.parallel import RELEASE
from problems.registry import lookup
from problems.replays import replay_problem
from problems.report import atomic_write_text, model_summary, plot_history, pyplot, save_figure
from problems.search_choice import Shipped, choice_note, finalist_rows, record_choice, reuse_note, search_summary
from training import fit, steps_per_epoch, validation_size
from training.backend import numerics_key
from training.record import gap_against_spread, seed_metrics
from tuning.common import data_key
from tuning.records import read_search

SEARCH_KEY = "3D"  # both editions' CNN trains with the 2018 3D search's choice

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


def build_for(p: float, train, values: dict | None = None, decay_steps: int | None = None):
    """The CNN of ``values`` (default: the shipped search trial's) at dropout rate ``p`` (p >= 1: no
    Dropout layer), shaped for ``train``."""
    values = read_shipped().settings if values is None else values
    return build_cnn_from_values(
        {**values, "dropout": p}, decay_steps, input_shape=train[0].shape[1:], num_classes=train[1].shape[1]
    )


def augmentation(values: dict) -> dict:
    """The input pipeline's settings of ``values``: ``training.fit``'s shift, rotation and zoom."""
    return {"shift": values["shift"], "rotation": values["rotation"], "zoom": values["zoom"]}


def _fit(model, train, val, epochs: int, seed: int, verbose: int, values: dict, callbacks=None):
    return fit(
        model,
        train,
        val,
        epochs,
        BATCH_SIZE,
        seed,
        verbose=verbose,
        callbacks=callbacks,
        image_shape=train[0].shape[1:3],
        **augmentation(values),
    )


def read_shipped() -> Shipped:
    """The values of the trial the committed CNN search chose (``tuning.records``)."""
    record = read_search(SEARCH_KEY)
    return Shipped(settings_of(record["chosen"]["values"]), record["chosen_trial_id"], record)


def settings_of(values: dict) -> dict:
    """A trial's values without Hyperband's bookkeeping (tuner/epochs, tuner/bracket, ...); a search
    recorded before rotation and zoom were searched trained without them (0)."""
    return {"rotation": 0, "zoom": 0.0, **{k: v for k, v in values.items() if not k.startswith("tuner/")}}


def settings_summary(values: dict) -> str:
    """One line of settings for a table."""
    where = "after each stage and before the classifier" if values["conv_dropout"] else "before the classifier"
    return (
        f"{values['filters']}/{2 * values['filters']} filters ({values['downsample']}), Dense {values['dense_units']}, "
        f"dropout {values['dropout']} {where}, lr {values['learning_rate']:.2e} cosine, shift {values['shift']}"
        + (f", rotation {values['rotation']}, zoom {values['zoom']}" if values["rotation"] or values["zoom"] else "")
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


def sweep(ctx: RunContext, train, val, rates, epochs: int, values: dict) -> list[dict]:
    """The dropout sweep as a keras-tuner search on the CNN of ``values``: one trial per rate,
    ``ctx.repeats`` seeded executions each, scored on ``val``. Trials live under ``ctx.tuner_dir`` in a
    project named by everything that changes the numbers, so an interrupted sweep rerun with the same
    command resumes."""
    from tuning.dropout_sweep import sweep_search

    project = (
        f"dropout_{ctx.edition}_{ctx.problem_id}_seed{ctx.seed}_e{epochs}_r{ctx.repeats}_"
        f"{numerics_key(ctx.threads)}_{data_key(*train, *val)}_{_settings_key(train, values)}"
    )
    rows = sweep_search(
        rates,
        build=lambda p: build_for(p, train, values),
        fit=lambda model, seed, callbacks: _fit(
            model, train, val, epochs, seed, verbose=0, values=values, callbacks=callbacks
        ),
        val=val,
        repeats=ctx.repeats,
        seed=ctx.seed,
        directory=ctx.tuner_dir,
        project=project,
        tensorboard=ctx.tensorboard_dir("dropout_sweep"),
        verbose=ctx.verbose,
        worker_timeout=ctx.worker_timeout,
        # A worker replays the run from its start, so in a --tune run it would join the Hyperband
        # search (whose chief is gone) instead of this sweep: there the sweep runs in this process.
        workers=None if ctx.tune else ctx.search_workers,
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


def sweep_note(rows: list[dict], chosen: float, searched: float) -> str:
    """The chosen rate against the runner-up (whether the gap exceeds the spread over the repeats), and
    the rate the Hyperband trial had."""
    candidates = sorted((r for r in rows if 0 < r["p"] < 1), key=lambda r: -r["val_accuracy"])
    also = f" The search's chosen trial had p = {searched}; its other settings are the model's."
    if len(candidates) < 2:
        return f"p = {chosen} was the only candidate.{also}"
    best, second = candidates[0], candidates[1]
    repeats = best.get("runs", 1)
    spreads = [r["val_accuracy_std"] if repeats > 1 else None for r in (best, second)]
    gap = best["val_accuracy"] - second["val_accuracy"]
    return (
        f"Chosen p = {chosen}: validation accuracy {best['val_accuracy']:.4f} after the sweep's epoch against "
        f"{second['val_accuracy']:.4f} for the runner-up p = {second['p']} ({repeats} seed(s) a point): a gap of "
        f"{gap:+.4f}, which {gap_against_spread(gap, spreads)}.{also}"
    )


def _settings_key(train, values: dict) -> str:
    """A fingerprint of what the sweep trains (settings, batch size, layer types, parameter count), so
    that saved trials are reused only while the model and its training are unchanged."""
    import hashlib

    model = build_for(0.5, train, values)
    described = repr((sorted(values.items()), BATCH_SIZE, [type(layer).__name__ for layer in model.layers]))
    return hashlib.sha256(f"{described}{model.count_params()}".encode()).hexdigest()[:6]


def write_sweep_table(rows, path) -> None:
    """The sweep's trials table, one row per rate sorted by rate (``tuning_trials.csv``)."""
    import pandas as pd

    # Through atomic_write_text: it creates the report folder, which a fresh --out does not have yet.
    atomic_write_text(path, pd.DataFrame(rows).sort_values("p").to_csv(index=False))


def plot_sweep(rows, title: str, path, replayed: dict | None = None, write_up: dict | None = None) -> str:
    """Accuracy and loss after the sweep's epoch against p: our model's sweep (validation split), the
    replayed sweeps (``replayed``: role -> ``problems.replays.run_sweep`` entry; test set) with their seed
    spread, and the write-up's reported accuracies (``write_up``: p -> accuracy)."""
    plt = pyplot()

    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    curves = [("our model (validation split)", rows, "val", "tab:blue")]
    colours = iter(["tab:orange", "tab:gray", "tab:green", "tab:purple"])
    for role, replay in (replayed or {}).items():
        label = "the edition's starter, trained" if role == "starter" else role
        curves.append((f"{label} (test set)", replay["sweep"], "test", next(colours)))
    for label, points, kind, colour in curves:
        ps = [r["p"] for r in points]
        for ax, figure in ((ax_acc, "accuracy"), (ax_loss, "loss")):
            spread = [r[f"{kind}_{figure}_std"] or 0.0 for r in points]
            ax.errorbar(ps, [r[f"{kind}_{figure}"] for r in points], yerr=spread, marker="o", capsize=3,
                        color=colour, label=label)  # fmt: skip
    if write_up:
        ax_acc.plot(list(write_up), list(write_up.values()), "kx", markersize=8, label="the write-up's reported")
    ax_acc.set(xlabel="dropout rate p", ylabel="accuracy", title="accuracy after 1 epoch")
    ax_loss.set(xlabel="dropout rate p", ylabel="cross-entropy", title="loss after 1 epoch")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def write_up_sweep(reported: dict) -> dict | None:
    """The write-up's reported sweep accuracies, p -> accuracy (test set 2018, validation 2023)."""
    found = reported.get("sweep_test_accuracy") or reported.get("sweep_val_accuracy")
    return found if isinstance(found, dict) else None


def run(ctx: RunContext, goal: float) -> dict:
    """The CNN for ``ctx.edition`` with the settings its search chose (``--tune``: search and choose
    now), the edition's dropout sweep on it, and its final training once per seed; ``goal`` is the
    project's test-accuracy goal."""
    train, val, test = prepare(ctx.mnist, ctx.seed, ctx.test_as_validation)
    scored_on = (
        "test set (starter notebook's choice)"
        if ctx.test_as_validation
        else f"validation split ({len(val[0])} training images)"
    )
    print(f"fit {train[0].shape}, validation: {scored_on}, test {test[0].shape}")
    epochs = ctx.epochs or FINAL_EPOCHS
    shipped = search_and_choose(ctx, train, val, test, epochs) if ctx.tune else read_shipped()
    values = shipped.settings
    print(f"settings: trial {shipped.trial_id} of the search: {settings_summary(values)}", flush=True)

    rates = SWEEPS[ctx.edition]
    sweep_epochs = SWEEP_EPOCHS if ctx.epochs is None else min(ctx.epochs, SWEEP_EPOCHS)
    rows = sweep(ctx, train, val, rates, sweep_epochs, values)
    print(f"{RELEASE} the sweep is done; the final model trains in this process alone", flush=True)
    write_sweep_table(rows, ctx.folder / "tuning_trials.csv")
    chosen = choose_rate(rows)
    print(f"chosen p = {chosen} (best validation accuracy among 0 < p < 1; the search's trial had {values['dropout']})")
    final = {**values, "dropout": chosen}
    plots = list(shipped.plots)

    # The chosen finalist's runs are this run's when the sweep kept its rate: same settings, data and seeds.
    reuse = final == values and [r.seed for r in shipped.records[: ctx.seeds]] == ctx.seed_list
    if reuse:
        records = shipped.records[: ctx.seeds]
        model = build_for(chosen, train, final)
        constraints = check_cnn_constraints(model)
    else:
        records, model, constraints = train_final(ctx, final, (train, val, test), epochs)
    title = f"{ctx.edition} {ctx.problem_id}: final CNN, p = {chosen} (seed {ctx.seed})"
    plots.append(plot_history(records[0].history, title, ctx.folder / "training_curves.png"))
    metrics = seed_metrics(records, goal if ctx.on_write_up_data else None)  # an MNIST goal: none on other data
    metrics.update(
        chosen_dropout=chosen,
        sweep=rows,
        search=search_summary(shipped.search),
        finalists=finalist_rows(shipped.search),
    )
    notes = [choice_note(shipped), sweep_note(rows, chosen, values["dropout"]), P_ONE_MEANING]
    if reuse:
        notes.append(reuse_note())
    reported = lookup(ctx.edition, ctx.problem_id).reported.get(ctx.edition, {}) if ctx.on_write_up_data else {}
    # The write-ups' models are MNIST's: on another data set there is nothing to replay them against.
    replayed = replay_problem(ctx, metrics, reported, rates, ctx.epochs) if ctx.replays and reported else None
    if replayed:
        metrics.update(replayed["tables"])
        notes += replayed["notes"]
    title = f"{ctx.edition} {ctx.problem_id}: dropout sweep ({ctx.repeats} seed(s) a point)"
    sweeps = replayed["sweeps"] if replayed else None
    plots.append(plot_sweep(rows, title, ctx.folder / "dropout_sweep.png", sweeps, write_up_sweep(reported)))
    return {
        "metrics": metrics,
        "hyperparameters": _hyperparameters(ctx, shipped, final, epochs, sweep_epochs, scored_on),
        "notes": notes,
        "per_seed": [r.figures() for r in records],
        "constraints": constraints,
        "history": records[0].history,
        "params": model.count_params(),
        "model_summary": model_summary(model),
        "epochs": epochs,
        "plots": plots,
        "data": ctx.mnist_description,
        **({"replays": replayed["replays"]} if replayed else {}),
    }


def _hyperparameters(ctx: RunContext, shipped: Shipped, final: dict, epochs: int, sweep_epochs: int, scored_on: str):
    """result.json's settings of a CNN run: the chosen trial's values with the sweep's rate, and the sweep's."""
    return {
        **final,
        "batch_size": BATCH_SIZE,
        "epochs": epochs,
        "optimizer": "Adam, cosine decay to 0",
        "search_trial": shipped.trial_id,
        "search_dropout": shipped.settings["dropout"],
        "source": f"trial {shipped.trial_id} of the keras-tuner search in reports/2018/{SEARCH_KEY}/search/ "
        "(search.json: chosen_trial_id), with the dropout sweep's rate",
        "sweep_epochs": sweep_epochs,
        "sweep_rates": SWEEPS[ctx.edition],
        "repeats": ctx.repeats,
        "sweep_search": "keras-tuner, one trial per rate (ExplicitListOracle), executions_per_trial = repeats; "
        "trials in tuning_trials.csv",
        "validation": scored_on,
    }


def train_final(ctx: RunContext, values: dict, split, epochs: int, seeds=None, label: str | None = None):
    """The CNN of ``values`` trained for ``epochs`` and scored once per seed (default ``ctx.seed_list``;
    ``training.record``): (records, the first seed's model, its constraint check)."""
    train, val, test = split
    decay_steps = epochs * steps_per_epoch(len(train[0]), BATCH_SIZE)
    constraints = []
    records, model = ctx.train_over_seeds(
        partial(build_for, values["dropout"], train, values, decay_steps=decay_steps),
        train,
        val,
        test,
        seeds,
        label,
        # The final runs log to TensorBoard as "final"; the finalists (seeds given) do not.
        final_logs=seeds is None,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        **augmentation(values),
        check=lambda m: constraints.append(check_cnn_constraints(m)),
        image_shape=train[0].shape[1:3],
    )
    return records, model, constraints[0]


def search_and_choose(ctx: RunContext, train, val, test, epochs: int) -> Shipped:
    """``--tune``: Hyperband over ``models.cnn.build_cnn_hp`` on the validation split (spread over
    ``ctx.jobs`` worker processes), then its best configuration and the hand-picked one trained for
    ``epochs`` with 3 seeds each and compared on validation (``problems.search_choice``)."""
    import time

    import keras

    from tuning.cnn_search import FACTOR, HYPERBAND_ITERATIONS, MAX_EPOCHS, MAX_STEP_RATIO, cost, search_cnn
    from tuning.common import describe_search, trials_table

    max_epochs = ctx.epochs or MAX_EPOCHS
    # Everything that sets the budget is in the name: keras-tuner restores a project's own budget. So is
    # what fixes the trials' last digits (backend, threads, kernels): a search resumes only under them.
    budget = f"e{max_epochs}_t{ctx.trials}" if ctx.trials else f"e{max_epochs}_i{HYPERBAND_ITERATIONS}"
    budget += f"_cap{MAX_STEP_RATIO}"
    project = (
        f"cnn_{ctx.edition}_{ctx.problem_id}_seed{ctx.seed}_{budget}_{numerics_key(ctx.threads)}_"
        f"{data_key(*train, *val)}"
    )
    started = time.perf_counter()
    _, tuner, reused = search_cnn(
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
    seconds = time.perf_counter() - started
    table = trials_table(tuner)
    spent = cost(tuner)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    first = min(tuner.oracle.trials)  # GuidedHyperbandOracle's first configuration is HAND_PICKED
    search = {
        **describe_search(tuner, len(table)),
        **spent,
        "oracle": "Hyperband",  # keras-tuner's, first configuration given (GuidedHyperbandOracle)
        "budget": f"Hyperband max_epochs={max_epochs}, factor={FACTOR}"
        + (f", at most {ctx.trials} trials" if ctx.trials else "")
        + f": {spent['fits']} fits, {spent['epochs']} epochs trained on the validation split; the first "
        "configuration is the hand-picked one",
        "cost_cap": f"a layout's measured batch-32 step time at most {MAX_STEP_RATIO}x the hand-picked model's "
        f"on {keras.backend.backend()} (tuning/cnn_layout_cost.json, benchmarks/cnn_layouts.py); "
        "a layout over it is refused untrained",
        "completed": spent["fits"],
        "trials_reused": reused,
        "best_trial_id": best_trial.trial_id,
        "best_values": settings_of(best_trial.hyperparameters.values),
        "best_val_accuracy": float(best_trial.score),
        "hand_picked_trial_id": first,
    }
    best = search["best_values"]
    print(f"search: {search['budget']}; best validation accuracy {search['best_val_accuracy']:.4f}: {best}")
    candidates = [("search's best", best_trial.trial_id, search["best_values"])]
    if search["best_values"] != HAND_PICKED:
        candidates.append(("hand-picked", first, dict(HAND_PICKED)))
    return record_choice(
        ctx,
        search,
        table,
        seconds,
        candidates,
        lambda values, seeds, label: train_final(ctx, values, (train, val, test), epochs, seeds, label)[0],
        lambda values: (settings_of(values), settings_summary(values)),
    )
