"""Section 1, deep-learning principles: the Playground demos, dying ReLUs, and OR / XOR networks.

2018 1Ai / 2023 1A and 2018 1Aii / 2023 1B rerun the course's two TensorFlow Playground links
(circle data, network 2-4-2-1, SGD 0.03, batch 10) with ReLU and sigmoid hidden units: the first
link random-initialised with seed "0.65409", the second zero-initialised with seed "0.6". The data,
the initial weights and the training rule are the Playground's own (``data_prep/playground.py``,
``models/playground.py``), so the curves are the ones the students watched, not look-alikes.
2018 1B / 2023 1C trains the same network with all negatives before any positive; 2018 1C / 2023
1D-1E checks hand-set OR and XOR networks and a trained network with no hidden layer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from data_prep.playground import SeedRandom, circle, make_playground_data, shuffle
from models.playground import (
    BATCH_SIZE,
    HIDDEN,
    LEARNING_RATE,
    TRUTH_INPUTS,
    PlaygroundSGD,
    build_playground_model,
    dead_units,
    hidden_activations,
    playground_weights,
)
from problems.context import RunContext
from problems.report import save_figure

GRID_DENSITY, X_DOMAIN = 100, (-6.0, 6.0)  # the Playground's heatmap: 100 x 100 over [-6, 6]^2
PLAYGROUND_COLOURS = ("#f59322", "#e8eaeb", "#0877bd")  # its colour scale for -1, 0, +1
NOTICEABLE = 0.01  # a loss fall counts as noticeable at 0.01 below its plateau (2% of the starting 0.5)
SETTLED = 0.01  # a run has settled once its training loss stays below this for good


@dataclass(frozen=True)
class Demo:
    """One of the course's Playground links."""

    name: str
    seed: str
    init: str


DEMOS = (Demo("random", "0.65409", "random"), Demo("zero", "0.6", "zero"))
LINK_CAVEAT = (
    "Faithfulness: data and initial weights are the Playground's for a page opened from the link with the "
    "activation in the URL (seed the generator, draw 500 points x 4, shuffle with 500 draws, then 18 weights). "
    "Changing the activation on an open page calls reset(), which draws new weights from where the generator "
    "stood, so a student who switched there trained the same data from other weights. The arithmetic is float64, "
    "as in JavaScript; TensorFlow may sum in another order, so curves agree to rounding, not bit for bit."
)


# ----------------------------------------------------------------------------------------------
# Shared pieces: training a demo, measuring it, drawing it.


def _grid() -> np.ndarray:
    """The heatmap's points, rows from the top (x2 = 6) down, as the Playground draws them."""
    axis = np.linspace(*X_DOMAIN, GRID_DENSITY)
    x1, x2 = np.meshgrid(axis, axis[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])


def _train_demo(demo: Demo, activation: str, epochs: int, marks: list[int]) -> dict:
    """Train one link's network for ``epochs``, keeping the heatmap at each epoch in ``marks``."""
    data = make_playground_data("circle", demo.seed)
    model = build_playground_model(HIDDEN, activation, demo.init, data.rng, name=f"{activation}_{demo.name}")
    initial = [w.copy() for w in model.get_weights()]
    trainer = PlaygroundSGD(model)
    grid = _grid()
    # Epoch 0 is the untrained network, as the Playground shows it before the first step.
    rows = [[*_scores(model, data.x_train, data.y_train), *_scores(model, data.x_test, data.y_test)]]
    heatmaps = {0: np.asarray(model(grid))[:, 0].reshape(GRID_DENSITY, GRID_DENSITY)}
    started = time.perf_counter()
    for start, stop in zip(marks[:-1], marks[1:], strict=True):
        rows.extend(trainer.train(data.x_train, data.y_train, stop - start, data.x_test, data.y_test))
        heatmaps[stop] = np.asarray(model(grid))[:, 0].reshape(GRID_DENSITY, GRID_DENSITY)
    return {
        "demo": demo,
        "data": data,
        "model": model,
        "initial": initial,
        "history": np.asarray(rows),
        "heatmaps": heatmaps,
        "train_seconds": time.perf_counter() - started,
    }


def _scores(model, x, y) -> tuple[float, float]:
    out = np.asarray(model(x))[:, 0]
    return float(np.mean(0.5 * (out - y) ** 2)), float(np.mean(np.where(out >= 0, 1.0, -1.0) == y))


def _first_epoch(condition: np.ndarray) -> int | None:
    hits = np.flatnonzero(condition)
    return int(hits[0]) if hits.size else None


def _stays_from(condition: np.ndarray) -> int | None:
    """First epoch from which ``condition`` holds at every later epoch (None if not at the end)."""
    if not condition[-1]:
        return None
    failing = np.flatnonzero(~condition)
    return int(failing[-1] + 1) if failing.size else 0


def _parameter_names(model) -> list[str]:
    return [f"{layer.name}/{kind}" for layer in model.layers if layer.weights for kind in ("kernel", "bias")]


def _weight_facts(run: dict) -> dict:
    """How far each parameter moved, and how different the units of each hidden layer are."""
    model = run["model"]
    final = model.get_weights()
    names = _parameter_names(model)
    change = {n: float(np.max(np.abs(f - i))) for n, f, i in zip(names, final, run["initial"], strict=True)}
    spread = {}
    for k in range(0, len(final) - 2, 2):  # hidden layers: a unit is its kernel column and its bias
        units = np.vstack([final[k], final[k + 1]])
        spread[names[k].split("/")[0]] = float(np.max(np.abs(units - units[:, :1])))
    return {
        "max_abs_weight_change": max(change.values()),
        "max_abs_change_by_parameter": change,
        "moved_parameters": [n for n, c in change.items() if c > 0],
        "max_difference_between_units": spread,
        "final_weights": {n: w.tolist() for n, w in zip(names, final, strict=True)},
    }


def _boundary_edges(model, density: int = 600, same_degrees: float = 5.0) -> dict:
    """Straight pieces of a ReLU network's decision boundary in [-6, 6]^2, and the edges the eye sees.

    Inside one pattern of active ReLUs the network is affine before its tanh, so the boundary there
    is one straight segment: counting the patterns met along the boundary counts its pieces. Two
    pieces whose directions differ by under ``same_degrees`` look like one edge (a unit with a tiny
    outgoing weight switching on bends the line by a fraction of a degree), so edges are counted
    by clustering the pieces' directions.
    """
    axis = np.linspace(*X_DOMAIN, density)
    points = np.column_stack([a.ravel() for a in np.meshgrid(axis, axis)])
    sign = (np.asarray(model(points))[:, 0] >= 0).reshape(density, density)
    edge = np.zeros_like(sign)
    edge[:, :-1] |= sign[:, :-1] != sign[:, 1:]
    edge[:-1, :] |= sign[:-1, :] != sign[1:, :]
    if not edge.any():
        return {"pieces": 0, "edges": 0, "piece_directions_degrees": []}
    active = np.hstack([a > 0 for a in hidden_activations(model, points[edge.ravel()])])
    patterns, counts = np.unique(active, axis=0, return_counts=True)
    weights = model.get_weights()
    angles = []
    for pattern in patterns[counts >= 3]:  # a pattern touched by a cell or two is a corner, not a piece
        grad, start = np.eye(2), 0
        for kernel in weights[0:-2:2]:  # the hidden kernels, with the pattern's inactive units cut
            grad = grad @ kernel * pattern[start : start + kernel.shape[1]]
            start += kernel.shape[1]
        g = (grad @ weights[-2])[:, 0]
        angles.append(float(np.degrees(np.arctan2(g[1], g[0]))) % 360)
    angles.sort()
    gaps = np.diff(angles + [angles[0] + 360])  # directions around the circle
    return {
        "pieces": len(angles),
        "edges": int(np.sum(gaps >= same_degrees)) or 1,
        "piece_directions_degrees": [round(a, 1) for a in angles],
    }


def _demo_metrics(run: dict) -> dict:
    history, data = run["history"], run["data"]
    train_loss = history[:, 0]
    plateau = train_loss[1]  # after the first epoch: the output bias has found the label mean by then
    metrics = {
        "seed": run["demo"].seed,
        "init": run["demo"].init,
        "train_points": len(data.y_train),
        "train_positive_share": float(np.mean(data.y_train > 0)),
        "initial_train_loss": float(train_loss[0]),
        "final_train_loss": float(train_loss[-1]),
        "final_test_loss": float(history[-1, 2]),
        "final_train_accuracy": float(history[-1, 1]),
        "final_test_accuracy": float(history[-1, 3]),
        "first_epoch_zero_train_error": _first_epoch(history[:, 1] == 1.0),
        f"settled_epoch_train_loss_below_{SETTLED}": _stays_from(train_loss < SETTLED),
        "loss_after_epoch_1": float(plateau),
        f"first_epoch_loss_falls_{NOTICEABLE}_below_epoch_1": _first_epoch(train_loss <= plateau - NOTICEABLE),
        "train_seconds": round(run["train_seconds"], 2),
    }
    if run["model"].get_layer("hidden_1").activation.__name__ == "relu":
        metrics["boundary"] = _boundary_edges(run["model"])
    metrics.update(_weight_facts(run))
    return metrics


def _colour_map():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("playground", PLAYGROUND_COLOURS)


def _draw_heatmap(ax, heatmap, data, title: str) -> None:
    ax.imshow(heatmap, cmap=_colour_map(), vmin=-1, vmax=1, extent=(*X_DOMAIN, *X_DOMAIN))
    ax.contour(
        np.linspace(*X_DOMAIN, GRID_DENSITY), np.linspace(*X_DOMAIN, GRID_DENSITY)[::-1], heatmap, [0], colors="k"
    )
    colours = np.where(data.y_train > 0, PLAYGROUND_COLOURS[2], PLAYGROUND_COLOURS[0])
    ax.scatter(*data.x_train.T, c=colours, s=7, edgecolors="white", linewidths=0.4)
    ax.set(title=title, xticks=[], yticks=[])


def _plot_boundaries(runs: dict, activation: str, path) -> str:
    import matplotlib.pyplot as plt

    marks = sorted(next(iter(runs.values()))["heatmaps"])
    fig, axes = plt.subplots(len(runs), len(marks), figsize=(2.2 * len(marks), 2.4 * len(runs)), squeeze=False)
    for row, (name, run) in zip(axes, runs.items(), strict=True):
        for ax, epoch in zip(row, marks, strict=True):
            _draw_heatmap(ax, run["heatmaps"][epoch], run["data"], f"epoch {epoch}")
        row[0].set_ylabel(f"{name} init (seed {run['demo'].seed})")
    fig.suptitle(f"{activation} hidden units: output over [-6, 6]^2 (orange -1, blue +1), black line = 0")
    return save_figure(fig, path)


def _plot_final(runs: dict, activation: str, path) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 5))
    for ax, (name, run) in zip(axes, runs.items(), strict=True):
        epoch = max(run["heatmaps"])
        loss = run["history"][-1, 2]
        _draw_heatmap(ax, run["heatmaps"][epoch], run["data"], f"{name} init (seed {run['demo'].seed}): epoch {epoch}")
        ax.set_xlabel(f"test loss {loss:.3f}")
    fig.suptitle(f"Decision boundary at the end, {activation} hidden units (training points shown)")
    return save_figure(fig, path)


def _plot_losses(runs: dict, activation: str, path) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 3.8), squeeze=False)
    for ax, (name, run) in zip(axes[0], runs.items(), strict=True):
        epochs = np.arange(len(run["history"]))
        ax.plot(epochs, run["history"][:, 0], label="train")
        ax.plot(epochs, run["history"][:, 2], label="test", alpha=0.8)
        ax.set(title=f"{name} init (seed {run['demo'].seed})", xlabel="epoch (250 points)", ylabel="1/2 (out - y)^2")
        ax.set_ylim(0, max(0.55, float(run["history"][:, [0, 2]].max()) * 1.05))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"Playground loss, {activation} hidden units, SGD 0.03, batch 10")
    return save_figure(fig, path)


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")


# ----------------------------------------------------------------------------------------------
# 2018 1Ai / 2023 1A and 2018 1Aii / 2023 1B.


def run_playground(ctx: RunContext, activation: str = "relu", epochs: int = 250, snapshots=(10, 50, 100)) -> dict:
    """Train both course links (random init, zero init) with ``activation`` hidden units.

    Args:
        ctx: the run's settings; ``ctx.epochs`` overrides ``epochs``.
        activation: the hidden units' activation ('relu' for part i, 'sigmoid' for part ii).
        epochs: passes over the 250 training points.
        snapshots: epochs (besides 0 and the last) at which the decision boundary is drawn.
    """
    _matplotlib()
    epochs = ctx.epochs or epochs
    marks = sorted({0, epochs, *(e for e in snapshots if 0 < e < epochs)})
    runs = {demo.name: _train_demo(demo, activation, epochs, marks) for demo in DEMOS}
    metrics = {name: _demo_metrics(run) for name, run in runs.items()}
    for name, m in metrics.items():
        print(
            f"{activation} {name}: train loss {m['initial_train_loss']:.4f} -> {m['final_train_loss']:.4f}, "
            f"test {m['final_test_loss']:.4f}, test accuracy {m['final_test_accuracy']:.3f}, "
            f"max |weight change| {m['max_abs_weight_change']:.3g}, moved {m['moved_parameters']}"
        )
    plots = [
        _plot_losses(runs, activation, ctx.folder / "loss_curves.png"),
        _plot_boundaries(runs, activation, ctx.folder / "boundaries_over_epochs.png"),
        _plot_final(runs, activation, ctx.folder / "boundary_final.png"),
    ]
    if activation != "relu":
        # The same random-init link with ReLU units, for the write-ups' speed comparison.
        relu = _train_demo(DEMOS[0], "relu", epochs, [0, epochs])
        keep = ("first_epoch_zero_train_error", f"settled_epoch_train_loss_below_{SETTLED}", "final_train_loss")
        metrics["relu_random_for_comparison"] = {k: _demo_metrics(relu)[k] for k in keep}
    r, z = metrics["random"], metrics["zero"]
    zero_fact = (
        f"only {z['moved_parameters']} moved"
        if activation == "relu"
        else f"loss falls noticeably from epoch {z[f'first_epoch_loss_falls_{NOTICEABLE}_below_epoch_1']}"
    )
    headline = (
        f"{activation}, {epochs} epochs: random init test loss {r['final_test_loss']:.4f} (accuracy "
        f"{r['final_test_accuracy']:.3f}, zero training error from epoch {r['first_epoch_zero_train_error']}); "
        f"zero init test loss {z['final_test_loss']:.4f} (accuracy {z['final_test_accuracy']:.3f}), {zero_fact}, "
        f"units of a layer identical to {_spread(z):.0e}"
    )
    return {
        "metrics": metrics,
        "headline": headline,
        "plots": plots,
        "epochs": epochs,
        "hyperparameters": _playground_settings(activation),
        "params": runs["random"]["model"].count_params(),
        "data": "TensorFlow Playground circle set, 500 points, noise 0, first 50% after its shuffle for training; "
        "seed strings 0.65409 (random init) and 0.6 (zero init), seedrandom ARC4 ported to Python",
        "notes": NOTES.get(activation, lambda *_: [])(metrics, epochs) + [LINK_CAVEAT],
    }


def _spread(m: dict) -> float:
    return max(m["max_difference_between_units"].values())


def _playground_settings(activation: str) -> dict:
    return {
        "network": "2 inputs (x1, x2) - 4 - 2 - 1 tanh",
        "hidden_activation": activation,
        "optimizer": "plain SGD, mean gradient over each batch of 10, fixed order, no reshuffle",
        "learning_rate": LEARNING_RATE,
        "batch_size": BATCH_SIZE,
        "loss": "1/2 (output - label)^2",
        "dtype": "float64",
        "random_init": "weights Math.random() - 0.5 drawn in nn.ts order after the data, biases 0.1",
        "zero_init": "all weights and biases 0",
    }


def _notes_relu(metrics: dict, epochs: int) -> list[str]:
    r, z = metrics["random"], metrics["zero"]
    out_bias = z["final_weights"]["output/bias"][0]
    return [
        f"Random init (seed 0.65409): training loss {r['initial_train_loss']:.3f} -> {r['final_train_loss']:.4f}, "
        f"test loss {r['final_test_loss']:.4f}, train/test accuracy {r['final_train_accuracy']:.3f}/"
        f"{r['final_test_accuracy']:.3f}; first epoch with zero training error {r['first_epoch_zero_train_error']}, "
        f"loss below {SETTLED} for good from epoch {r[f'settled_epoch_train_loss_below_{SETTLED}']}. "
        "The write-ups: reaches 0 error (reproduced) and converges in ~200 epochs (2023; here the loss is flat "
        "well before that, see loss_curves.png). The boundary is a polygon of straight pieces, one per "
        f"pattern of active ReLUs: {r['boundary']['pieces']} pieces at the end, in {r['boundary']['edges']} "
        "visibly different directions (pieces within 5 degrees merged), so a polygon with "
        f"{r['boundary']['edges']} sharp-cornered edges where the 2018 write-up saw a hexagon "
        "(boundary_final.png): the same kind of shape, not the same count.",
        f"Zero init (seed 0.6): every hidden weight and bias stays exactly 0 and so do the output weights "
        f"(largest change {max(v for k, v in z['max_abs_change_by_parameter'].items() if k != 'output/bias'):.1g}); "
        f"only the output bias moved, to {out_bias:.4f}. Why: each hidden pre-activation is 0, ReLU'(0) = 0, "
        "so no gradient reaches any hidden parameter; the output weights' gradient is (error x hidden output) = "
        "error x 0; but the output bias's gradient, (output - label)(1 - output^2), passes through no ReLU. "
        f"It fits the label mean: tanh(b) = {np.tanh(out_bias):.4f} against a training-label mean of "
        f"{2 * z['train_positive_share'] - 1:.4f}. The output is the same constant everywhere, so the boundary "
        f"never appears; accuracy {z['final_test_accuracy']:.3f} (the majority share). The 2018 write-up's "
        "'all the weights remain zero' holds for every weight; the Playground's bias on the output node is "
        "the one parameter that changes.",
    ]


def _notes_sigmoid(metrics: dict, epochs: int) -> list[str]:
    r, z, relu = metrics["random"], metrics["zero"], metrics["relu_random_for_comparison"]
    settled, fall_key = (
        f"settled_epoch_train_loss_below_{SETTLED}",
        f"first_epoch_loss_falls_{NOTICEABLE}_below_epoch_1",
    )
    fall = z[fall_key]
    ratio = f"{r[settled] / relu[settled]:.0f}x" if r[settled] and relu[settled] else "n/a (not settled)"
    return [
        f"Random init (seed 0.65409): training loss {r['initial_train_loss']:.3f} -> {r['final_train_loss']:.4f} "
        f"after {epochs} epochs, test loss {r['final_test_loss']:.4f}, test accuracy {r['final_test_accuracy']:.3f}; "
        f"first epoch with zero training error {r['first_epoch_zero_train_error']}, loss below {SETTLED} for good "
        f"from epoch {r[settled]}; the same link with ReLU units: zero training error from epoch "
        f"{relu['first_epoch_zero_train_error']}, loss below {SETTLED} from epoch {relu[settled]}. Sigmoid is "
        f"{ratio} slower by this measure; the write-ups judged it by eye at ~2000 against ~200 epochs (10x). The "
        f"loss also sits near its start until epoch {r[fall_key]} before it falls. The boundary is smooth and "
        "round where ReLU's is a polygon (boundary_final.png).",
        f"Zero init (seed 0.6): 'noticeably' = the training loss {NOTICEABLE} below its value after epoch 1 "
        f"({z['loss_after_epoch_1']:.4f}); that first happens at epoch {fall}. Final training loss "
        f"{z['final_train_loss']:.4f}, test loss {z['final_test_loss']:.4f}, test accuracy "
        f"{z['final_test_accuracy']:.3f}. The write-ups: barely changes until ~3300-3500 epochs, then a poor "
        "near-linear boundary with loss ~0.4.",
        f"Symmetry never breaks: the largest difference between the units of a hidden layer (incoming weights "
        f"and bias) at the end is {z['max_difference_between_units']}, against weights of size "
        f"{z['max_abs_weight_change']:.2f} (anything nonzero is float64 rounding in TensorFlow's matrix kernels; "
        "JavaScript's loops keep them bit-identical). Every unit of a layer computes the same "
        "function, so the net is in effect 2-1-1-1: one direction w.x, squashed three times, so the boundary is "
        "a straight line (or none). Sigmoid(0) = 0.5 is not 0, so gradients are small but not zero, which is "
        "why it moves at all, unlike ReLU.",
    ]


NOTES = {"relu": _notes_relu, "sigmoid": _notes_sigmoid}


# ----------------------------------------------------------------------------------------------
# 2018 1B / 2023 1C: all negatives before any positive.

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
    def share(key, layer=slice(None)):
        return float(np.mean([o[key][layer].mean() for o in outcomes]))

    final_accuracy = np.array([o["accuracy"][-1] for o in outcomes])
    mean_curve = np.mean([o["accuracy"] for o in outcomes], axis=0)
    reached = _first_epoch(mean_curve >= 0.99)
    return {
        "dead_fraction_after_first_half": share("dead_after_first_half"),
        "dead_fraction_after_epoch_1": share("dead_after_epoch_1"),
        "dead_fraction_at_end": share("dead_at_end"),
        "dead_fraction_at_end_layer_1": share("dead_at_end", slice(0, units_in_layer_1)),
        "dead_fraction_at_end_layer_2": share("dead_at_end", slice(units_in_layer_1, None)),
        "units_dead_after_first_half_alive_at_end": int(sum(o["recovered"].sum() for o in outcomes)),
        "of_which_in_layer_1": int(sum(o["recovered"][:units_in_layer_1].sum() for o in outcomes)),
        "units_dead_after_first_half": int(sum(o["dead_after_first_half"].sum() for o in outcomes)),
        "final_accuracy_mean": float(final_accuracy.mean()),
        "final_accuracy_min": float(final_accuracy.min()),
        "runs_stuck_at_one_class": int(np.sum(final_accuracy <= 0.5)),
        "accuracy_after_epoch_1_mean": float(mean_curve[0]),
        "accuracy_after_epoch_2_mean": float(mean_curve[1]) if len(mean_curve) > 1 else None,
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
    _matplotlib()
    epochs = ctx.epochs or epochs
    rng = SeedRandom(f"{DYING_SEED}-{ctx.seed}")
    points = np.asarray(circle(rng, num_samples))
    x, y = points[:, :2], points[:, 2]
    shuffled = list(range(len(y)))
    shuffle(shuffled, rng)
    orders = {
        "negatives_first": np.concatenate([np.flatnonzero(y < 0), np.flatnonzero(y > 0)]),
        "shuffled": np.asarray(shuffled),
    }
    starts = [playground_weights((2, *HIDDEN, 1), "random", rng) for _ in range(inits)]
    model = build_playground_model(HIDDEN, "relu", "zero", name="dying_relu")
    trainer = PlaygroundSGD(model)
    results, curves, timing = {}, {}, {}
    for rate in learning_rates:
        for name, order in orders.items():
            started = time.perf_counter()
            outcomes = []
            for weights in starts:
                model.set_weights(weights)
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
    plots = [
        _plot_dying_sweep(results, learning_rates, ctx.folder / "dead_units_vs_learning_rate.png"),
        _plot_dying_curves(curves, (LEARNING_RATE, shown_rate), ctx.folder / "accuracy_curves.png"),
    ]
    play, shown = f"lr_{LEARNING_RATE:g}", f"lr_{shown_rate:g}"
    headline = (
        f"dead ReLU units at the end, negatives-first vs shuffled: lr 0.03 "
        f"{results[play + '/negatives_first']['dead_fraction_at_end']:.2f} vs "
        f"{results[play + '/shuffled']['dead_fraction_at_end']:.2f}; lr {shown_rate:g} "
        f"{results[shown + '/negatives_first']['dead_fraction_at_end']:.2f} vs "
        f"{results[shown + '/shuffled']['dead_fraction_at_end']:.2f} (accuracy "
        f"{results[shown + '/negatives_first']['final_accuracy_mean']:.2f} vs "
        f"{results[shown + '/shuffled']['final_accuracy_mean']:.2f})"
    )
    return {
        "metrics": results,
        "headline": headline,
        "plots": plots,
        "epochs": epochs,
        "wall_seconds_by_setting": timing,
        "hyperparameters": {
            "network": "Playground 2-4-2-1, ReLU hidden units, tanh output, random init (weights U[-0.5, 0.5), "
            "biases 0.1)",
            "optimizer": "plain SGD, batch 10 (mean gradient), loss 1/2 (output - label)^2",
            "learning_rates": list(learning_rates),
            "initialisations": inits,
            "orders": "negatives_first: the 500 ring points (-1), then the 500 inner points (+1), every epoch; "
            "shuffled: one Fisher-Yates shuffle, kept every epoch (the Playground's rule)",
            "dead_unit": "output 0 on every one of the 1000 training points",
        },
        "params": model.count_params(),
        "data": f"Playground circle generator, {num_samples} points ({num_samples // 2} +1 inside radius 2.5, "
        f"{num_samples // 2} -1 on the ring 3.5..5), noise 0, seed string '{DYING_SEED}-{ctx.seed}'",
        "notes": _notes_dying(results, shown_rate),
    }


def _plot_dying_sweep(results: dict, rates, path) -> str:
    import matplotlib.pyplot as plt

    fig, (ax_dead, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, colour in (("negatives_first", "C3"), ("shuffled", "C0")):
        rows = [results[f"lr_{r:g}/{name}"] for r in rates]
        ax_dead.plot(rates, [r["dead_fraction_after_first_half"] for r in rows], "--o", c=colour, alpha=0.6,
                     label=f"{name}: after the first 500 points")  # fmt: skip
        ax_dead.plot(rates, [r["dead_fraction_at_end"] for r in rows], "-o", c=colour, label=f"{name}: at the end")
        ax_acc.plot(rates, [r["final_accuracy_mean"] for r in rows], "-o", c=colour, label=f"{name}: mean")
        ax_acc.plot(rates, [r["final_accuracy_min"] for r in rows], ":o", c=colour, alpha=0.6, label=f"{name}: worst")
    ax_dead.set(xscale="log", xlabel="learning rate", ylabel="share of the 6 hidden ReLUs dead", title="dead units")
    ax_acc.set(xscale="log", xlabel="learning rate", ylabel="training accuracy", title="final accuracy")
    for ax in (ax_dead, ax_acc):
        ax.axvline(LEARNING_RATE, c="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Negatives first vs shuffled (dotted grey line: the Playground's rate 0.03)")
    return save_figure(fig, path)


def _plot_dying_curves(curves: dict, rates, path) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rates), figsize=(5.5 * len(rates), 3.6), squeeze=False)
    for ax, rate in zip(axes[0], rates, strict=True):
        for name, colour in (("negatives_first", "C3"), ("shuffled", "C0")):
            curve = curves[f"lr_{rate:g}/{name}"]
            ax.plot(np.arange(1, len(curve) + 1), curve, c=colour, label=name)
        label = "the Playground's rate" if rate == LEARNING_RATE else "a larger rate, where the effect shows"
        ax.set(title=f"lr {rate:g} ({label})", xlabel="epoch (1000 points)", ylabel="mean training accuracy")
        ax.set_ylim(0.4, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(fig, path)


def _epoch(tally: dict) -> str:
    found = tally["first_epoch_mean_accuracy_reaches_0.99"]
    return "never" if found is None else str(found)


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _notes_dying(results: dict, shown_rate: float) -> list[str]:
    def line(rate, label):
        nf, sh = results[f"lr_{rate:g}/negatives_first"], results[f"lr_{rate:g}/shuffled"]
        return (
            f"lr {rate:g} ({label}), negatives-first vs shuffled over {nf['runs']} initialisations: dead share "
            f"after the first 500 points {nf['dead_fraction_after_first_half']:.3f} vs "
            f"{sh['dead_fraction_after_first_half']:.3f}, at the end {nf['dead_fraction_at_end']:.3f} vs "
            f"{sh['dead_fraction_at_end']:.3f} (layer 1 {nf['dead_fraction_at_end_layer_1']:.3f} vs "
            f"{sh['dead_fraction_at_end_layer_1']:.3f}); final accuracy {nf['final_accuracy_mean']:.3f} vs "
            f"{sh['final_accuracy_mean']:.3f} (worst {nf['final_accuracy_min']:.3f} vs "
            f"{sh['final_accuracy_min']:.3f}); "
            f"runs stuck on one class {nf['runs_stuck_at_one_class']} vs {sh['runs_stuck_at_one_class']}; mean "
            f"accuracy after epoch 2 {_f(nf['accuracy_after_epoch_2_mean'])} vs "
            f"{_f(sh['accuracy_after_epoch_2_mean'])}, "
            f"reaches 0.99 at epoch {_epoch(nf)} vs {_epoch(sh)}; of {nf['units_dead_after_first_half']} units "
            f"dead after the 500 negatives, {nf['units_dead_after_first_half_alive_at_end']} were alive at the end "
            f"({nf['of_which_in_layer_1']} of them in layer 1)."
        )

    play, shown = results[f"lr_{LEARNING_RATE:g}/negatives_first"], results[f"lr_{shown_rate:g}/negatives_first"]
    shows = play["dead_fraction_at_end"] >= 0.05
    return [
        line(LEARNING_RATE, "the Playground's rate"),
        line(shown_rate, "a larger rate, chosen to show the effect"),
        f"At the Playground's rate the dying-ReLU effect {'shows' if shows else 'does not show'}: "
        f"{play['dead_fraction_after_first_half']:.3f} of the units are dead after the 500 negatives and "
        f"{play['dead_fraction_at_end']:.3f} at the end. 50 steps of 0.03 move the weights little, and once the tanh "
        "output nears -1 its error signal (output - label)(1 - output^2) fades, so nothing keeps pushing the ReLUs "
        "down. What negatives-first does cost at this rate is time: the network swings to whichever class it saw "
        "last (accuracy 0.5 after epoch 2) before it learns the circle.",
        f"With a larger rate (lr {shown_rate:g}) the write-ups' effect appears: negatives-first ends with "
        f"{shown['dead_fraction_at_end']:.3f} of the units dead and accuracy {shown['final_accuracy_mean']:.3f}, "
        "well below the shuffled order. Most deaths come with the repeated negative blocks of later epochs, not the "
        "first one, and they last: a ReLU whose input is negative on every point gets zero gradient on every "
        "point, so a dead first-layer unit can never recover. A second-layer unit can, if the first layer moves "
        f"under it: of the {shown['units_dead_after_first_half']} units dead after the first negatives, "
        f"{shown['units_dead_after_first_half_alive_at_end']} came back ({shown['of_which_in_layer_1']} in layer 1), "
        "so the write-ups' 'do not recover' holds for the first layer, not for every unit. At lr 2 and above both "
        "orders kill the network (accuracy ~0.5): the rate alone is too large there.",
    ]


# ----------------------------------------------------------------------------------------------
# 2018 1C / 2023 1D-1E: OR and XOR from ReLU units.


def _truth_table(model) -> list[dict]:
    outputs = np.asarray(model(TRUTH_INPUTS))[:, 0]
    return [{"x1": int(a), "x2": int(b), "output": float(o)} for (a, b), o in zip(TRUTH_INPUTS, outputs, strict=True)]


def _or_passes(table: list[dict]) -> bool:
    """The problem's OR: >= 1 when either input is 1, exactly 0 on (0, 0)."""
    return all((r["output"] >= 1) if (r["x1"] or r["x2"]) else (r["output"] == 0) for r in table)


def _xor_cases(outputs, threshold: float = 0.5) -> np.ndarray:
    """Which of the 4 cases an output gets right, reading output > ``threshold`` as 1."""
    target = np.logical_xor(TRUTH_INPUTS[:, 0], TRUTH_INPUTS[:, 1])
    return (np.asarray(outputs) > threshold) == target


def _plot_gates(models: dict, path) -> str:
    import matplotlib.pyplot as plt

    axis = np.linspace(-0.5, 1.5, 201)
    points = np.column_stack([a.ravel() for a in np.meshgrid(axis, axis)]).astype("float32")
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False)
    for ax, (title, model) in zip(axes[0], models.items(), strict=True):
        out = np.asarray(model(points))[:, 0].reshape(len(axis), len(axis))
        # One scale from 0 to at least 1, so a flat output looks flat instead of showing rounding noise.
        low, high = min(0.0, float(out.min())), max(1.0, float(out.max()))
        image = ax.imshow(out, origin="lower", extent=(-0.5, 1.5, -0.5, 1.5), cmap="viridis", vmin=low, vmax=high)
        for (a, b), o in zip(TRUTH_INPUTS, np.asarray(model(TRUTH_INPUTS))[:, 0], strict=True):
            ax.annotate(f"{o:.2f}", (a, b), ha="center", va="center", fontsize=9, bbox={"fc": "white", "alpha": 0.8})
        ax.set(title=title, xlabel="x1", ylabel="x2")
        fig.colorbar(image, ax=ax, shrink=0.8)
    return save_figure(fig, path)


def run_or_relu(ctx: RunContext) -> dict:
    """OR(x1, x2) from one ReLU unit, its truth table checked; the exact-0/1 variant beside it."""
    from models.playground import build_or_exact, build_or_relu

    _matplotlib()
    one, exact = build_or_relu(), build_or_exact()
    table, exact_table = _truth_table(one), _truth_table(exact)
    passes = _or_passes(table)
    exact_ok = [r["output"] for r in exact_table] == [0.0, 1.0, 1.0, 1.0]
    for row in table:
        print(f"OR({row['x1']}, {row['x2']}) = {row['output']:g}")
    plots = [_plot_gates({"ReLU(x1 + x2): 1 unit": one, "exact OR: 2 hidden ReLUs": exact}, ctx.folder / "or.png")]
    return {
        "metrics": {
            "truth_table": table,
            "meets_or_spec": passes,
            "relu_units": 1,
            "hidden_layers": 0,
            "exact_variant_truth_table": exact_table,
            "exact_variant_outputs_0_1": exact_ok,
            "exact_variant_hidden_relu_units": 2,
        },
        "headline": f"one ReLU unit, ReLU(x1 + x2): outputs {[r['output'] for r in table]} on 00, 01, 10, 11; "
        f"spec met: {passes}",
        "plots": plots,
        "params": one.count_params(),
        "hyperparameters": {"weights": [1.0, 1.0], "bias": 0.0, "activation": "relu"},
        "notes": [
            "Fewest units: one. The output unit itself, ReLU(x1 + x2) with no hidden layer, gives 0, 1, 1, 2 on "
            "(0,0), (0,1), (1,0), (1,1): >= 1 whenever an input is 1 and exactly 0 on (0,0), as the problem "
            "asks. Fewer is impossible (some unit has to produce the output). On 0/1 inputs x1 + x2 is already "
            ">= 0, so the ReLU changes nothing there; it keeps the output >= 0 elsewhere.",
            "If OR must be exactly 1 on (1,1) the sum overshoots; then min(1, x1 + x2) = ReLU(x1 + x2) - "
            f"ReLU(x1 + x2 - 1) needs two hidden ReLUs and a linear output (checked: {exact_ok}).",
            "The write-ups drew their answer as a figure that is not in their text, so there is no number to "
            "compare with.",
        ],
    }


def run_xor_depth(ctx: RunContext, train_epochs: int = 500) -> dict:
    """XOR with one hidden layer (hand-set), and a trained network with no hidden layer that cannot."""
    import keras

    from models.playground import build_no_hidden_layer, build_xor_relu

    _matplotlib()
    xor_net = build_xor_relu()
    table = _truth_table(xor_net)
    xor_ok = [r["output"] for r in table] == [0.0, 1.0, 1.0, 0.0]

    # A Dense(1) trained on the 4 points with mean squared error: the best it can do.
    keras.utils.set_random_seed(ctx.seed)
    linear = build_no_hidden_layer()
    targets = np.logical_xor(TRUTH_INPUTS[:, 0], TRUTH_INPUTS[:, 1]).astype("float32")
    epochs = ctx.epochs or train_epochs
    # The 4 points repeated ``epochs`` times in one fit: the same full-batch steps as ``epochs`` epochs,
    # without Keras' per-epoch overhead (seconds, not a minute).
    repeats = (np.tile(TRUTH_INPUTS, (epochs, 1)), np.tile(targets, epochs))
    linear.fit(*repeats, batch_size=4, epochs=1, shuffle=False, verbose=0)
    final_mse = float(np.mean((np.asarray(linear(TRUTH_INPUTS))[:, 0] - targets) ** 2))
    linear_out = np.asarray(linear(TRUTH_INPUTS))[:, 0]
    linear_passed = int(_xor_cases(linear_out).sum())

    # Exhaustively: every linear threshold unit on a grid of weights and biases.
    grid = np.linspace(-3, 3, 61)
    w1, w2, b = (a.ravel() for a in np.meshgrid(grid, grid, grid))
    scores = np.outer(w1, TRUTH_INPUTS[:, 0]) + np.outer(w2, TRUTH_INPUTS[:, 1]) + b[:, None]
    passed = (scores > 0.5) == np.logical_xor(TRUTH_INPUTS[:, 0], TRUTH_INPUTS[:, 1])
    best = int(passed.sum(axis=1).max())
    kernel, bias = (w.ravel().tolist() for w in linear.get_weights())
    print(f"XOR net: {[r['output'] for r in table]}; no hidden layer: outputs {np.round(linear_out, 4)}, "
          f"{linear_passed}/4 cases; best linear unit on a {len(grid)}^3 grid: {best}/4")  # fmt: skip
    plots = [_plot_gates({"XOR: 2 hidden ReLUs": xor_net, "no hidden layer, trained": linear}, ctx.folder / "xor.png")]
    return {
        "metrics": {
            "truth_table": table,
            "xor_correct": xor_ok,
            "hidden_layers": 1,
            "hidden_relu_units": 2,
            "no_hidden_layer": {
                "outputs": linear_out.tolist(),
                "cases_passed": linear_passed,
                "final_mse": final_mse,
                "kernel": kernel,
                "bias": bias,
                "steps": epochs,
            },
            "linear_grid_search": {
                "weights_and_bias_grid": f"{len(grid)}^3 over [-3, 3]",
                "units_tried": int(len(b)),
                "most_cases_passed": best,
                "units_passing_3": int(np.sum(passed.sum(axis=1) == 3)),
                "units_passing_4": int(np.sum(passed.sum(axis=1) == 4)),
            },
        },
        "headline": f"one hidden layer of 2 ReLUs computes XOR exactly ({xor_ok}); a trained Dense(1) passes "
        f"{linear_passed}/4, the best of {len(b)} linear units {best}/4",
        "plots": plots,
        "params": xor_net.count_params(),
        "hyperparameters": {
            "xor_net": "h1 = ReLU(x1 + x2), h2 = ReLU(x1 + x2 - 1), output ReLU(h1 - 2 h2)",
            "no_hidden_layer": f"Dense(1), SGD 0.1, mse, full batch of 4, {epochs} steps; output > 0.5 read as 1",
        },
        "notes": [
            f"One hidden layer suffices: h1 = ReLU(x1 + x2) (an OR that counts), h2 = ReLU(x1 + x2 - 1) (AND), "
            f"output ReLU(h1 - 2 h2) gives {[r['output'] for r in table]}. It is the 2023 write-up's 'OR and "
            "AND, then subtract the (1,1) case'; the 2018 write-up's OR and NAND, then AND, is another way.",
            "No hidden layer cannot: the output is w1 x1 + w2 x2 + b (before any monotone activation), and XOR "
            "needs b <= t, w1 + b > t, w2 + b > t and w1 + w2 + b <= t for a threshold t; adding the middle two "
            "gives w1 + w2 + 2b > 2t, while adding the outer two gives w1 + w2 + 2b <= 2t: a contradiction, so "
            "XOR is not linearly separable.",
            f"Measured: the trained Dense(1) ends at outputs {np.round(linear_out, 4).tolist()} (MSE "
            f"{final_mse:.4f}, weights {np.round(kernel, 6).tolist()}): the least-squares fit to XOR is the "
            "constant 0.5, so every case is a tie; reading > 0.5 as 1, the rounding noise gives "
            f"{linear_passed}/4. Of {len(b)} linear threshold units on a grid, "
            f"{int(np.sum(passed.sum(axis=1) == 3))} pass 3 cases and none passes 4.",
        ],
    }
