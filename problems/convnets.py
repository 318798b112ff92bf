"""Convolutional networks: padding (3A/4A), Conv2D parameters (3B/4B), pooling (3C/4C, 4D).

Every answer is read off a real Keras layer, not computed by hand. The CNN and its dropout sweep
(3D/4F) are in ``problems/cnn.py``.
"""

from __future__ import annotations

import numpy as np

from problems.context import RunContext
from problems.report import pyplot, save_figure


def stacked_conv_sizes(n_layers: int, padding: str, size: int = 28) -> list[int]:
    """Output side length after each of ``n_layers`` stacked 3x3 Conv2D layers on a size x size input."""
    import keras

    inputs = keras.Input((size, size, 1))
    x, sizes = inputs, []
    for _ in range(n_layers):
        if x.shape[1] < 3:  # a 3x3 'valid' convolution needs at least 3 pixels
            break
        x = keras.layers.Conv2D(1, 3, padding=padding)(x)
        sizes.append(int(x.shape[1]))
    return sizes


def border_effect(size: int = 8) -> np.ndarray:
    """A 3x3 all-ones kernel with 'same' padding over an all-ones image: the corners see 4/9 of the
    signal and the edges 6/9, the artefact zero padding brings in."""
    import keras

    conv = keras.layers.Conv2D(1, 3, padding="same", use_bias=False, kernel_initializer="ones")
    out = conv(np.ones((1, size, size, 1), dtype="float32"))
    return np.asarray(out)[0, :, :, 0] / 9.0


def run_padding(ctx: RunContext, n_layers: int = 14) -> dict:
    """3A / 4A: output size of k stacked 3x3 convolutions on 28x28, 'same' against 'valid'."""
    same, valid = stacked_conv_sizes(n_layers, "same"), stacked_conv_sizes(n_layers, "valid")
    table = [{"layers": k + 1, "same": same[k], "valid": valid[k] if k < len(valid) else None} for k in range(n_layers)]
    print("layers  same  valid")
    for row in table:
        print(f"{row['layers']:6d}  {row['same']:4d}  {row['valid'] if row['valid'] is not None else '-':>5}")
    border = border_effect()
    notes = [
        f"'valid' padding loses 2 pixels a layer: 28 -> {valid[-1]} after {len(valid)} layers, and a "
        f"{len(valid) + 1}th 3x3 layer no longer fits; 'same' keeps 28x28 at any depth.",
        "Pro of zero padding: depth no longer costs resolution, and border pixels are seen by as many "
        "filter positions as central ones.",
        f"Con: the padded zeros are made-up input. With an all-ones image and an all-ones 3x3 kernel the "
        f"output is {border[0, 0]:.3f} at a corner and {border[0, 3]:.3f} on an edge instead of 1: an "
        "artificial edge the network must learn to ignore; and the larger maps cost more computation.",
    ]
    return {
        "metrics": {"sizes": table, "border_corner": float(border[0, 0]), "border_edge": float(border[0, 3])},
        "headline": f"28x28 after 13 layers: same {same[12]}x{same[12]}, valid {valid[12]}x{valid[12]}; "
        f"corner output with zero padding {border[0, 0]:.2f} of the interior",
        "notes": notes,
    }


def run_conv_params(ctx: RunContext) -> dict:
    """3B / 4B: 8 filters of 5x5 on a 32x32x3 input, stride 1, no padding."""
    import keras

    inputs = keras.Input((32, 32, 3))
    layer = keras.layers.Conv2D(8, 5, strides=1, padding="valid")
    output = layer(inputs)
    params, shape = layer.count_params(), tuple(output.shape[1:])
    print(f"parameters {params} (8 x 5 x 5 x 3 weights + 8 biases), output shape {shape}")
    return {
        "metrics": {"params": params, "output_shape": list(shape), "kernel_shape": list(layer.kernel.shape)},
        "headline": f"{params} parameters; output {shape[0]}x{shape[1]}x{shape[2]}",
        "notes": [
            "The 2018 write-up gave the output as 28x28x3, which is wrong: there is one output "
            "channel per filter, so 28x28x8."
        ],
        "expected": {"params": 608, "output_shape": [28, 28, 8]},
    }


# Problem set's four 4x4 matrices and the expected 2x2 pooled results.
POOL_INPUTS = [
    [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]],
    [[0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0]],
    [[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]],
    [[0, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0]],
]
EXPECTED_AVERAGE = [
    [[1, 0.5], [0.5, 0.25]],
    [[0.5, 1], [0.25, 0.5]],
    [[0.25, 0.5], [0.5, 1]],
    [[0.5, 0.25], [1, 0.5]],
]
EXPECTED_MAX = [[[1, 1], [1, 1]]] * 4


def pool_matrices(matrices, kind: str) -> np.ndarray:
    """2x2 pooling, stride 2, of a stack of 2-D matrices through Keras' pooling layers."""
    import keras

    layer = {"average": keras.layers.AveragePooling2D, "max": keras.layers.MaxPooling2D}[kind](2, strides=2)
    x = np.asarray(matrices, dtype="float32")[..., None]
    return np.asarray(layer(x))[..., 0]


def run_pooling(ctx: RunContext) -> dict:
    """3C / 4C: average and max pooling of the four matrices; 3C iii is measured by ``pooling_noise``."""
    average, maximum = pool_matrices(POOL_INPUTS, "average"), pool_matrices(POOL_INPUTS, "max")
    ok_avg = bool(np.allclose(average, EXPECTED_AVERAGE))
    ok_max = bool(np.allclose(maximum, EXPECTED_MAX))
    for i, (a, m) in enumerate(zip(average, maximum, strict=True)):
        print(f"matrix {i + 1}: average {a.tolist()}  max {m.tolist()}")
    result = {
        "metrics": {
            "average": average.tolist(),
            "max": maximum.tolist(),
            "average_matches": ok_avg,
            "max_matches": ok_max,
        },
        "headline": f"average pooling matches the expected matrices: {ok_avg}; max pooling (all ones): {ok_max}",
        "expected": {"average": EXPECTED_AVERAGE, "max": EXPECTED_MAX},
    }
    if ctx.edition == "2018":  # 2018's 3C part iii is 2023's 4D: measure it here too
        noise = run_pooling_noise(ctx)
        result["metrics"]["noise"] = noise["metrics"]
        result["plots"] = noise["plots"]
        result["notes"] = noise["notes"]
        result["data"] = noise["data"]
    return result


DROP_FRACTIONS = (0.05, 0.1, 0.2, 0.3)


def relative_change(before: np.ndarray, after: np.ndarray) -> float:
    """Mean over images of ||after - before|| / ||before||."""
    axes = tuple(range(1, before.ndim))
    num = np.sqrt(((after - before) ** 2).sum(axis=axes))
    den = np.sqrt((before**2).sum(axis=axes)) + 1e-12
    return float(np.mean(num / den))


def run_pooling_noise(ctx: RunContext, n_images: int = 2000, filters: int = 16) -> dict:
    """2018 3C iii / 2023 4D, measured: drop a fraction of pixels at random (or shift by one pixel) in
    real MNIST digits and compare how far ReLU feature maps move before and after 2x2 pooling.

    Feature maps come from a fixed, seeded random 3x3 Conv2D + ReLU (no training: the question is
    about the pooling operation, not a learnt filter).
    """
    import keras

    from data_prep.mnist import to_float

    (x_train, _), _ = ctx.mnist
    rng = np.random.default_rng(ctx.seed)
    n_images = min(n_images, len(x_train))  # a small --dataset-dir set has fewer
    images = to_float(x_train[rng.choice(len(x_train), n_images, replace=False)])[..., None]
    conv = keras.layers.Conv2D(
        filters, 3, padding="same", activation="relu", kernel_initializer=keras.initializers.HeNormal(seed=ctx.seed)
    )
    views = {
        "unpooled": lambda x: np.asarray(conv(x)),
        "average 2x2": lambda x: np.asarray(keras.layers.AveragePooling2D(2)(conv(x))),
        "max 2x2": lambda x: np.asarray(keras.layers.MaxPooling2D(2)(conv(x))),
    }
    clean = {name: view(images) for name, view in views.items()}
    rows = []
    for frac in DROP_FRACTIONS:
        damaged = images * (rng.random(images.shape) >= frac)  # missing pixels read as 0
        rows.append(
            {
                "perturbation": f"drop {frac:.0%} of pixels",
                **{name: relative_change(clean[name], view(damaged)) for name, view in views.items()},
            }
        )
    shifted = np.roll(images, 1, axis=2)  # one pixel to the right (MNIST borders are blank)
    rows.append(
        {
            "perturbation": "shift 1 pixel right",
            **{name: relative_change(clean[name], view(shifted)) for name, view in views.items()},
        }
    )
    for row in rows:
        print(f"{row['perturbation']:22s} " + "  ".join(f"{k} {row[k]:.3f}" for k in views))

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name in views:
        ax.plot([f * 100 for f in DROP_FRACTIONS], [r[name] for r in rows[:-1]], marker="o", label=name)
    ax.set(
        xlabel="pixels dropped (%)",
        ylabel="relative change of feature maps",
        title="Pooling against missing pixels (real MNIST)",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    plot = save_figure(fig, ctx.folder / "pooling_noise.png")
    drop10, shift = rows[1], rows[-1]
    notes = [
        f"Dropping 10% of pixels moves the unpooled feature maps by {drop10['unpooled']:.3f} (relative L2), "
        f"average-pooled maps by {drop10['average 2x2']:.3f}, max-pooled by {drop10['max 2x2']:.3f}.",
        f"A one-pixel shift moves them by {shift['unpooled']:.3f}, {shift['average 2x2']:.3f} and "
        f"{shift['max 2x2']:.3f}: pooling summarises a neighbourhood, so a missing pixel or a small "
        "displacement is partly absorbed by its neighbours.",
    ]
    return {
        "metrics": {"changes": rows, "images": n_images, "filters": filters},
        "headline": f"10% pixels dropped: feature maps move {drop10['unpooled']:.3f} unpooled, "
        f"{drop10['average 2x2']:.3f} average-pooled, {drop10['max 2x2']:.3f} max-pooled",
        "plots": [plot],
        "notes": notes,
        "data": ctx.mnist_description,
    }
