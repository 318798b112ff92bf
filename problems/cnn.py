"""The CNN problem (2018 3D, 2023 4F): a dropout sweep, then the final model for 10 epochs.

The story of a run: carve a validation split from the training images; train our final architecture
for 1 epoch at batch size 32 at each dropout rate p of the edition's sweep (``--repeats N`` seeds a
point), scored on the validation split; pick the best p that keeps a Dropout layer; train the final
model with it for 10 epochs at batch size 32; score the test set once.

What p = 1.0 means: Keras 2.1.3 (the 2018 stack) applied dropout only when 0 < rate < 1, so the
write-up's p = 1.0 silently trained with no dropout at all (hence its 0.985, like p = 0). Keras 3.15
accepts ``Dropout(1.0)`` and zeroes every activation in training (tested), which would leave the
output independent of the input. Here p = 1.0 keeps the 2018 meaning explicitly: the model is built
with no Dropout layer, and the report says so.
"""

from __future__ import annotations

import numpy as np

from data_prep.mnist import one_hot, to_float, validation_split
from models.cnn import build_cnn_final, check_cnn_constraints
from problems.context import RunContext
from problems.report import model_summary, plot_history, pyplot, save_figure
from training import final_metrics, fit, history_record, set_seed, steps_per_epoch, validation_size

SWEEPS = {
    "2018": [round(0.1 * i, 1) for i in range(1, 11)],  # 0.1 ... 1.0, as the 2018 write-up ran it
    "2023": [round(0.1 * i, 1) for i in range(0, 10)],  # 0.0 ... 0.9, as the 2023 write-up ran it
}
BATCH_SIZE = 32  # the problem's setting for both the sweep and the final model
SWEEP_EPOCHS, FINAL_EPOCHS = 1, 10
P_ONE_MEANING = (
    "p = 1.0 follows Keras 2.1.3 (the 2018 stack), which applied dropout only when 0 < rate < 1: the model "
    "is built with no Dropout layer. Neither p = 1.0 nor p = 0.0 (the identity) is a candidate for the final "
    "model, which needs a Dropout layer that drops something. (Keras 3.15's "
    "Dropout(1.0) would zero every activation in training instead.)"
)
# Final-model training settings, chosen on the validation split (see reports/2018/3D/result.json).
FINAL_SETTINGS = {"learning_rate": 2e-3, "shift": 1}


def build_for(p: float, train, decay_steps: int | None = None):
    """Our final architecture at dropout rate ``p`` (p >= 1: no Dropout layer), shaped for ``train``."""
    return build_cnn_final(
        dropout=None if p >= 1.0 else p,
        learning_rate=FINAL_SETTINGS["learning_rate"],
        decay_steps=decay_steps,
        input_shape=train[0].shape[1:],
        num_classes=train[1].shape[1],
    )


def _fit(model, train, val, epochs: int, seed: int, verbose: int):
    return fit(
        model,
        train,
        val,
        epochs,
        BATCH_SIZE,
        seed,
        shift=FINAL_SETTINGS["shift"],
        verbose=verbose,
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


def sweep(train, val, rates, repeats: int, seed: int, epochs: int, verbose: int) -> list[dict]:
    """Train a fresh final-architecture model per (rate, repeat) and score it on ``val``."""
    rows = []
    for p in rates:
        scores = []
        for r in range(repeats):
            set_seed(seed + r)
            model = build_for(p, train)
            _fit(model, train, val, epochs, seed + r, verbose=0)
            scores.append(model.evaluate(*val, verbose=0))
        loss, acc = np.asarray(scores).T
        row = {
            "p": p,
            "val_loss": float(loss.mean()),
            "val_accuracy": float(acc.mean()),
            "val_loss_std": float(loss.std()),
            "val_accuracy_std": float(acc.std()),
            "runs": repeats,
            "dropout_layer": p < 1.0,
        }
        rows.append(row)
        if verbose:
            print(
                f"p={p:.1f}: val accuracy {row['val_accuracy']:.4f} +- {row['val_accuracy_std']:.4f}, "
                f"loss {row['val_loss']:.4f}",
                flush=True,
            )
    return rows


def choose_rate(rows: list[dict]) -> float:
    """The sweep's best p by validation accuracy among 0 < p < 1: the final model needs a Dropout layer
    that drops something, so p = 0 (the identity) and p = 1 (no layer) cannot be chosen."""
    return max((r for r in rows if 0 < r["p"] < 1), key=lambda r: r["val_accuracy"])["p"]


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
    """Dropout sweep and final CNN for ``ctx.edition``; ``goal`` is the project's test-accuracy goal."""
    train, val, test = prepare(ctx.mnist, ctx.seed, ctx.test_as_validation)
    scored_on = (
        "test set (starter notebook's choice)"
        if ctx.test_as_validation
        else f"validation split ({len(val[0])} training images)"
    )
    print(f"fit {train[0].shape}, validation: {scored_on}, test {test[0].shape}")
    rates = SWEEPS[ctx.edition]
    sweep_epochs = SWEEP_EPOCHS if ctx.epochs is None else min(ctx.epochs, SWEEP_EPOCHS)
    rows = sweep(train, val, rates, ctx.repeats, ctx.seed, sweep_epochs, ctx.verbose)
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
    set_seed(ctx.seed)
    model = build_for(chosen, train, decay_steps=epochs * steps_per_epoch(len(train[0]), BATCH_SIZE))
    constraints = check_cnn_constraints(model)
    history = _fit(model, train, val, epochs, ctx.seed, ctx.verbose)
    test_loss, test_accuracy = model.evaluate(*test, verbose=0)
    print(f"{ctx.problem_id}: final model test loss {test_loss:.5f}, test accuracy {test_accuracy:.4f}")
    plots.append(
        plot_history(
            history.history,
            f"{ctx.edition} {ctx.problem_id}: final CNN, p = {chosen}",
            ctx.folder / "training_curves.png",
        )
    )
    hist = history.history
    return {
        "metrics": {
            # The project's goal is an MNIST figure: another data set is reported without it.
            **final_metrics(test_loss, test_accuracy, hist, goal if ctx.on_write_up_data else None),
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
            "optimizer": "Adam, cosine decay to 0",
            **FINAL_SETTINGS,
            "validation": scored_on,
        },
        "constraints": constraints,
        "notes": [P_ONE_MEANING],
        "history": history_record(hist),
        "params": model.count_params(),
        "model_summary": model_summary(model),
        "epochs": epochs,
        "plots": plots,
        "data": ctx.mnist_description,
    }
