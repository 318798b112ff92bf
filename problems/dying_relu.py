"""Section 1, dying ReLUs: the Playground's ReLU network trained with all negatives before any positive.

2018 1B / 2023 1C trains the network of the Playground demos (``problems/playground_demos.py``) on a
1000-point circle set with all negatives before any positive, against a shuffled order, from the same
random initialisations at several learning rates, and counts the ReLUs that die.
"""

from __future__ import annotations

import time

import numpy as np

from data_prep.playground import SeedRandom, circle, shuffle
from models.playground import (
    BATCH_SIZE,
    HIDDEN,
    LEARNING_RATE,
    PlaygroundSGD,
    build_playground_model,
    dead_units,
    playground_weights,
)
from problems.context import RunContext
from problems.playground_common import first_epoch
from problems.report import pyplot, save_figure
from training.record import exceeds_spread, gap_against_spread, sample_std

DYING_SEED = "dying-relu"  # the seed string of the 1000-point circle set and the initial weights


def _ordered_run(trainer: PlaygroundSGD, x_ordered, y_ordered, x, y, epochs: int, learning_rate: float) -> dict:
    """Train on the points in the given order; dead units after the first half, after epoch 1, at the end."""
    half = len(x_ordered) // 2
    model = trainer.model
    # The first half (the 500 negatives, in the negatives-first order) is trained as its own set:
    # with 500 points and batches of 10 no batch straddles the halves, so this is one epoch's first half.
    trainer.train(x_ordered[:half], y_ordered[:half], 1, x, y, learning_rate, start_epoch=0)
    after_half = np.concatenate(dead_units(model, x))
    first = trainer.train(x_ordered[half:], y_ordered[half:], 1, x, y, learning_rate, start_epoch=0)
    after_epoch_1 = np.concatenate(dead_units(model, x))
    rest = trainer.train(x_ordered, y_ordered, epochs - 1, x, y, learning_rate, start_epoch=1)
    final = np.concatenate(dead_units(model, x))
    history = np.vstack([first, rest])
    return {
        "dead_after_first_half": after_half,
        "dead_after_epoch_1": after_epoch_1,
        "dead_at_end": final,
        "recovered": after_half & ~final,
        "accuracy": history[:, 3],  # columns 2-3 score all the points; 0-1 only the half just trained on
        "loss": history[:, 2],
    }


def _tally(outcomes: list[dict], units_in_layer_1: int) -> dict:
    """The figures of one order and rate over its initialisations: means, and the sample standard
    deviations of those the observations compare (the spread a gap between the orders is judged by)."""

    def share(key, layer=slice(None)):
        return float(np.mean([o[key][layer].mean() for o in outcomes]))

    final_accuracy = np.array([o["accuracy"][-1] for o in outcomes])
    mean_curve = np.mean([o["accuracy"] for o in outcomes], axis=0)
    reached = first_epoch(mean_curve >= 0.99)
    return {
        "dead_fraction_after_first_half": share("dead_after_first_half"),
        "dead_fraction_after_epoch_1": share("dead_after_epoch_1"),
        "dead_fraction_at_end": share("dead_at_end"),
        "dead_fraction_at_end_std": sample_std([float(o["dead_at_end"].mean()) for o in outcomes]),
        "dead_fraction_at_end_layer_1": share("dead_at_end", slice(0, units_in_layer_1)),
        "dead_fraction_at_end_layer_2": share("dead_at_end", slice(units_in_layer_1, None)),
        "units_dead_after_first_half_alive_at_end": int(sum(o["recovered"].sum() for o in outcomes)),
        "of_which_in_layer_1": int(sum(o["recovered"][:units_in_layer_1].sum() for o in outcomes)),
        "units_dead_after_first_half": int(sum(o["dead_after_first_half"].sum() for o in outcomes)),
        "final_accuracy_mean": float(final_accuracy.mean()),
        "final_accuracy_std": sample_std(final_accuracy.tolist()),
        "final_accuracy_min": float(final_accuracy.min()),
        "runs_stuck_at_one_class": int(np.sum(final_accuracy <= 0.5)),
        "accuracy_after_epoch_1_mean": float(mean_curve[0]),
        "accuracy_after_epoch_2_mean": float(mean_curve[1]) if len(mean_curve) > 1 else None,
        "accuracy_after_epoch_2_std": sample_std([float(o["accuracy"][1]) for o in outcomes])
        if len(mean_curve) > 1
        else None,
        "first_epoch_mean_accuracy_reaches_0.99": None if reached is None else reached + 1,
        "runs": len(outcomes),
    }


def run_dying_relu(
    ctx: RunContext,
    epochs: int = 50,
    inits: int = 20,
    learning_rates=(0.03, 0.1, 0.3, 1.0, 3.0),
    shown_rate: float = 1.0,
    num_samples: int = 1000,
) -> dict:
    """The Playground's ReLU network trained negatives-first against a shuffled order.

    Args:
        ctx: the run's settings; ``ctx.epochs`` overrides ``epochs``.
        epochs: passes over the 1000 points (each pass keeps the run's order).
        inits: random initialisations (the Playground's rule), the same ones for every order and rate.
        learning_rates: SGD rates to sweep; 0.03 is the Playground's.
        shown_rate: the rate whose curves are drawn beside the Playground's.
        num_samples: points of the circle set (half +1 inside, half -1 on the ring).
    """
    epochs = ctx.epochs or epochs
    x, y, orders, starts = _dying_data(ctx.seed, num_samples, inits)
    model = build_playground_model(HIDDEN, "relu", "zero", name="dying_relu")
    results, curves, timing = _sweep(PlaygroundSGD(model), starts, x, y, orders, epochs, learning_rates)
    half = num_samples // 2
    plots = [
        _plot_dying_sweep(results, learning_rates, half, ctx.folder / "dead_units_vs_learning_rate.png"),
        _plot_dying_curves(curves, (LEARNING_RATE, shown_rate), num_samples, ctx.folder / "accuracy_curves.png"),
    ]
    return {
        "metrics": results,
        "headline": _headline_dying(results, shown_rate),
        "plots": plots,
        "epochs": epochs,
        "wall_seconds_by_setting": timing,
        "hyperparameters": _hyperparameters_dying(learning_rates, inits, num_samples),
        "params": model.count_params(),
        "data": f"Playground circle generator, {num_samples} points ({num_samples // 2} +1 inside radius 2.5, "
        f"{num_samples // 2} -1 on the ring 3.5..5), noise 0, seed string '{DYING_SEED}-{ctx.seed}'",
        "notes": _notes_dying(results, shown_rate, learning_rates, half),
    }


def _dying_data(seed: int, num_samples: int, inits: int) -> tuple:
    """(x, y, {order name: point indices}, initial weights): all drawn from one seeded generator, in
    the Playground's order (points, shuffle, weights), so a seed gives the same set and starts."""
    rng = SeedRandom(f"{DYING_SEED}-{seed}")
    points = np.asarray(circle(rng, num_samples))
    x, y = points[:, :2], points[:, 2]
    shuffled = list(range(len(y)))
    shuffle(shuffled, rng)
    orders = {
        "negatives_first": np.concatenate([np.flatnonzero(y < 0), np.flatnonzero(y > 0)]),
        "shuffled": np.asarray(shuffled),
    }
    starts = [playground_weights((2, *HIDDEN, 1), "random", rng) for _ in range(inits)]
    return x, y, orders, starts


def _sweep(trainer: PlaygroundSGD, starts, x, y, orders: dict, epochs: int, learning_rates) -> tuple[dict, ...]:
    """Every (rate, order) setting from every start: its tally, mean accuracy curve and wall seconds,
    each keyed ``lr_<rate>/<order>``; one line printed per setting as it ends."""
    results, curves, timing = {}, {}, {}
    for rate in learning_rates:
        for name, order in orders.items():
            started = time.perf_counter()
            outcomes = []
            for weights in starts:  # every setting starts from the same weights
                trainer.model.set_weights(weights)
                outcomes.append(_ordered_run(trainer, x[order], y[order], x, y, epochs, rate))
            key = f"lr_{rate:g}/{name}"
            results[key] = _tally(outcomes, HIDDEN[0])
            curves[key] = np.mean([o["accuracy"] for o in outcomes], axis=0)
            timing[key] = round(time.perf_counter() - started, 2)
            t = results[key]
            print(
                f"{key:24s} dead after first half {t['dead_fraction_after_first_half']:.3f}, at end "
                f"{t['dead_fraction_at_end']:.3f}; accuracy {t['final_accuracy_mean']:.3f} "
                f"(min {t['final_accuracy_min']:.3f}); {timing[key]} s"
            )
    return results, curves, timing


def _headline_dying(results: dict, shown_rate: float) -> str:
    """Dead shares at the end, negatives-first vs shuffled, at the Playground's rate and at ``shown_rate``."""
    play, shown = f"lr_{LEARNING_RATE:g}", f"lr_{shown_rate:g}"
    return (
        f"dead ReLU units at the end, negatives-first vs shuffled: lr 0.03 "
        f"{results[play + '/negatives_first']['dead_fraction_at_end']:.2f} vs "
        f"{results[play + '/shuffled']['dead_fraction_at_end']:.2f}; lr {shown_rate:g} "
        f"{results[shown + '/negatives_first']['dead_fraction_at_end']:.2f} vs "
        f"{results[shown + '/shuffled']['dead_fraction_at_end']:.2f} (accuracy "
        f"{results[shown + '/negatives_first']['final_accuracy_mean']:.2f} vs "
        f"{results[shown + '/shuffled']['final_accuracy_mean']:.2f})"
    )


def _hyperparameters_dying(learning_rates, inits: int, num_samples: int) -> dict:
    """The network, optimizer, orders and definition of a dead unit, as the report states them."""
    half = num_samples // 2
    return {
        "network": "Playground 2-4-2-1, ReLU hidden units, tanh output, random init (weights U[-0.5, 0.5), biases 0.1)",
        "optimizer": "plain SGD, batch 10 (mean gradient), loss 1/2 (output - label)^2",
        "learning_rates": list(learning_rates),
        "initialisations": inits,
        "orders": f"negatives_first: the {half} ring points (-1), then the {half} inner points (+1), every "
        "epoch; shuffled: one Fisher-Yates shuffle, kept every epoch (the Playground's rule)",
        "dead_unit": f"output 0 on every one of the {num_samples} training points",
    }


def _plot_dying_sweep(results: dict, rates, half: int, path) -> str:
    plt = pyplot()

    fig, (ax_dead, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, colour in (("negatives_first", "C3"), ("shuffled", "C0")):
        rows = [results[f"lr_{r:g}/{name}"] for r in rates]
        ax_dead.plot(rates, [r["dead_fraction_after_first_half"] for r in rows], "--o", c=colour, alpha=0.6,
                     label=f"{name}: after the first {half} points")  # fmt: skip
        ax_dead.plot(rates, [r["dead_fraction_at_end"] for r in rows], "-o", c=colour, label=f"{name}: at the end")
        ax_acc.plot(rates, [r["final_accuracy_mean"] for r in rows], "-o", c=colour, label=f"{name}: mean")
        ax_acc.plot(rates, [r["final_accuracy_min"] for r in rows], ":o", c=colour, alpha=0.6, label=f"{name}: worst")
    ax_dead.set(xscale="log", xlabel="learning rate", ylabel=f"share of the {sum(HIDDEN)} hidden ReLUs dead")
    ax_dead.set_title("dead units")
    ax_acc.set(xscale="log", xlabel="learning rate", ylabel="training accuracy", title="final accuracy")
    for ax in (ax_dead, ax_acc):
        ax.axvline(LEARNING_RATE, c="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Negatives first vs shuffled (dotted grey line: the Playground's rate 0.03)")
    return save_figure(fig, path)


def _plot_dying_curves(curves: dict, rates, num_samples: int, path) -> str:
    plt = pyplot()

    fig, axes = plt.subplots(1, len(rates), figsize=(5.5 * len(rates), 3.6), squeeze=False)
    for ax, rate in zip(axes[0], rates, strict=True):
        for name, colour in (("negatives_first", "C3"), ("shuffled", "C0")):
            curve = curves[f"lr_{rate:g}/{name}"]
            ax.plot(np.arange(1, len(curve) + 1), curve, c=colour, label=name)
        label = "the Playground's rate" if rate == LEARNING_RATE else "a larger rate, where the effect shows"
        ax.set(title=f"lr {rate:g} ({label})", xlabel=f"epoch ({num_samples} points)", ylabel="mean training accuracy")
        ax.set_ylim(0.4, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(fig, path)


def _epoch(tally: dict) -> str:
    found = tally["first_epoch_mean_accuracy_reaches_0.99"]
    return "never" if found is None else str(found)


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _notes_dying(results: dict, shown_rate: float, rates, half: int) -> list[str]:
    """The observations, every figure read off ``results``; a claim is made only where they bear it out."""
    return [
        _note_setting(results, LEARNING_RATE, "the Playground's rate", half),
        _note_setting(results, shown_rate, "a larger rate, chosen to show the effect", half),
        _note_playground_rate(results, half),
        _note_larger_rate(results, shown_rate, half),
        *_note_near_chance(results, rates),
    ]


def _note_setting(results: dict, rate: float, label: str, half: int) -> str:
    """Every tallied figure of one rate, negatives-first beside shuffled."""
    nf, sh = results[f"lr_{rate:g}/negatives_first"], results[f"lr_{rate:g}/shuffled"]
    return (
        f"lr {rate:g} ({label}), negatives-first vs shuffled over {nf['runs']} initialisations: dead share "
        f"after the first {half} points {nf['dead_fraction_after_first_half']:.3f} vs "
        f"{sh['dead_fraction_after_first_half']:.3f}, at the end {nf['dead_fraction_at_end']:.3f} vs "
        f"{sh['dead_fraction_at_end']:.3f} (layer 1 {nf['dead_fraction_at_end_layer_1']:.3f} vs "
        f"{sh['dead_fraction_at_end_layer_1']:.3f}); final accuracy {nf['final_accuracy_mean']:.3f} vs "
        f"{sh['final_accuracy_mean']:.3f} (worst {nf['final_accuracy_min']:.3f} vs "
        f"{sh['final_accuracy_min']:.3f}); "
        f"runs stuck on one class {nf['runs_stuck_at_one_class']} vs {sh['runs_stuck_at_one_class']}; mean "
        f"accuracy after epoch 2 {_f(nf['accuracy_after_epoch_2_mean'])} vs "
        f"{_f(sh['accuracy_after_epoch_2_mean'])}, "
        f"reaches 0.99 at epoch {_epoch(nf)} vs {_epoch(sh)}; of {nf['units_dead_after_first_half']} units "
        f"dead after the {half} negatives, {nf['units_dead_after_first_half_alive_at_end']} were alive at the end "
        f"({nf['of_which_in_layer_1']} of them in layer 1)."
    )


def _note_playground_rate(results: dict, half: int) -> str:
    """Whether the effect shows at the Playground's rate; why not, if not; what the order costs in time."""
    play_nf, play_sh = results[f"lr_{LEARNING_RATE:g}/negatives_first"], results[f"lr_{LEARNING_RATE:g}/shuffled"]
    steps = half // BATCH_SIZE
    shows = play_nf["dead_fraction_at_end"] >= 0.05
    playground = (
        f"At the Playground's rate the dying-ReLU effect {'shows' if shows else 'does not show'}: "
        f"{play_nf['dead_fraction_after_first_half']:.3f} of the units are dead after the {half} negatives and "
        f"{play_nf['dead_fraction_at_end']:.3f} at the end."
    )
    if not shows:
        playground += (
            f" The {half} negatives are {steps} steps of {LEARNING_RATE:g}, and once the tanh output nears -1 its "
            "error signal (output - label)(1 - output^2) fades, so nothing keeps pushing the ReLUs down."
        )
    after_2, after_2_shuffled = play_nf["accuracy_after_epoch_2_mean"], play_sh["accuracy_after_epoch_2_mean"]
    if after_2 is not None and abs(after_2 - 0.5) <= 0.05 and after_2_shuffled > after_2 + 0.1:
        playground += (
            " What negatives-first does cost at this rate is time: after epoch 2 it is no better than answering "
            f"one class (mean accuracy {after_2:.3f}, against {after_2_shuffled:.3f} shuffled: "
            f"{_gap(play_nf, play_sh, 'accuracy_after_epoch_2_mean', 'accuracy_after_epoch_2_std')}), and its mean "
            f"accuracy reaches 0.99 at epoch {_epoch(play_nf)} against {_epoch(play_sh)} shuffled."
        )
    return playground


def _note_larger_rate(results: dict, shown_rate: float, half: int) -> str:
    """Whether the effect appears at ``shown_rate``, when the deaths come, and which units can recover."""
    shown, shown_sh = results[f"lr_{shown_rate:g}/negatives_first"], results[f"lr_{shown_rate:g}/shuffled"]
    gap = shown["dead_fraction_at_end"] - shown_sh["dead_fraction_at_end"]
    if gap <= 0:
        verdict = "the write-ups' effect does not appear here either"
    elif exceeds_spread(gap, [shown["dead_fraction_at_end_std"], shown_sh["dead_fraction_at_end_std"]]) is not False:
        verdict = "the write-ups' effect appears"  # (no spread measured: one initialisation)
    else:  # the project's rule: a gap within the spread is not a finding
        verdict = "the means lean the write-ups' way, by less than the spread over the initialisations"
    larger = (
        f"With a larger rate (lr {shown_rate:g}) negatives-first ends with {shown['dead_fraction_at_end']:.3f} of "
        f"the units dead (shuffled {shown_sh['dead_fraction_at_end']:.3f}) and accuracy "
        f"{shown['final_accuracy_mean']:.3f} (shuffled {shown_sh['final_accuracy_mean']:.3f}): {verdict}"
        f" (dead share: {_gap(shown, shown_sh, 'dead_fraction_at_end', 'dead_fraction_at_end_std')}; accuracy: "
        f"{_gap(shown, shown_sh, 'final_accuracy_mean', 'final_accuracy_std')}; runs stuck on one class "
        f"{shown['runs_stuck_at_one_class']} against {shown_sh['runs_stuck_at_one_class']} of {shown['runs']})."
    )
    if shown["dead_fraction_at_end"] > 2 * shown["dead_fraction_after_first_half"]:
        larger += (
            f" Most deaths come after the first {half} negatives ({shown['dead_fraction_after_first_half']:.3f} "
            "dead by then), with the repeated negative blocks of later epochs."
        )
    larger += (
        " A first-layer ReLU whose input is negative on every point gets zero gradient on every point, and its "
        "input is the data, which does not move: once dead it never recovers. A second-layer unit can, if the "
        f"first layer moves under it: of the {shown['units_dead_after_first_half']} units dead after the first "
        f"negatives, {shown['units_dead_after_first_half_alive_at_end']} were alive at the end "
        f"({shown['of_which_in_layer_1']} in layer 1)."
    )
    return larger


def _gap(negatives_first: dict, shuffled: dict, mean: str, std: str) -> str:
    """``a gap of +0.074, which exceeds the spread over the initialisations (0.061)``: negatives-first's
    ``mean`` against shuffled's, judged by the larger of the two orders' ``std`` over the initialisations."""
    gap = negatives_first[mean] - shuffled[mean]
    spreads = [negatives_first.get(std), shuffled.get(std)]
    return f"a gap of {gap:+.3f}, which {gap_against_spread(gap, spreads, 3, 'spread over the initialisations')}"


def _note_near_chance(results: dict, rates) -> list[str]:
    """The note on the smallest swept rate from which on both orders end near chance (mean final
    accuracy <= 0.6), where the rate alone is to blame; none if the largest rate is not near chance."""

    def near_chance(rate) -> bool:
        return all(results[f"lr_{rate:g}/{o}"]["final_accuracy_mean"] <= 0.6 for o in ("negatives_first", "shuffled"))

    ordered = sorted(rates)
    first = len(ordered)
    while first > 0 and near_chance(ordered[first - 1]):
        first -= 1
    if first == len(ordered):
        return []
    r = ordered[first]
    nf, sh = results[f"lr_{r:g}/negatives_first"], results[f"lr_{r:g}/shuffled"]
    return [
        f"From lr {r:g} on, both orders end near chance (at lr {r:g} mean final accuracy "
        f"{nf['final_accuracy_mean']:.3f} negatives-first, {sh['final_accuracy_mean']:.3f} shuffled): there "
        "the rate alone is too large, whatever the order."
    ]
