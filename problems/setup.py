"""2A (installed versions) and 2B / 2023 3A (the MNIST data, before and after flattening)."""

from __future__ import annotations

import numpy as np

from problems.context import RunContext, versions
from problems.report import pyplot, save_figure


def run_versions(ctx: RunContext) -> dict:
    """2A: the versions of this stack, recorded beside the originals (see ``reported``)."""
    found = versions()
    for name, value in found.items():
        print(f"{name:12s} {value}")
    return {"metrics": found, "headline": ", ".join(f"{k} {v}" for k, v in found.items() if k != "platform")}


def _describe(x: np.ndarray) -> dict:
    return {"shape": list(x.shape), "dtype": str(x.dtype), "min": float(x.min()), "max": float(x.max())}


def run_mnist_data(ctx: RunContext) -> dict:
    """2B: (i) each input is 28x28 with values 0..255, 60,000 train and 10,000 test; (ii) flattened
    row by row to 784 floats in 0..1. Saves a grid of sample digits."""
    plt = pyplot()

    from data_prep.mnist import flatten, to_float

    (x_train, y_train), (x_test, y_test) = ctx.mnist
    flat = flatten(to_float(x_train))
    # Flattening keeps every pixel in row-major order: row r, column c lands at r * 28 + c.
    row_major = bool(np.array_equal(flat[0].reshape(x_train.shape[1:]), to_float(x_train[0])))
    facts = {
        "train_images": _describe(x_train),
        "test_images": _describe(x_test),
        "train_labels": {"shape": list(y_train.shape), "counts": np.bincount(y_train).tolist()},
        "test_labels": {"shape": list(y_test.shape), "counts": np.bincount(y_test).tolist()},
        "flattened_train": _describe(flat),
        "flatten_is_row_major": row_major,
    }
    for name, value in facts.items():
        print(f"{name:20s} {value}")

    fig, axes = plt.subplots(4, 8, figsize=(8, 4.4))
    for ax, image, label in zip(axes.flat, x_train, y_train, strict=False):
        ax.imshow(image, cmap="gray_r")
        ax.set_title(str(label), fontsize=9)
        ax.axis("off")
    fig.suptitle("The first 32 training digits and their labels")
    plot = save_figure(fig, ctx.folder / "sample_digits.png")
    headline = (
        f"train {facts['train_images']['shape']} {facts['train_images']['dtype']} "
        f"0..{facts['train_images']['max']:.0f}; test {facts['test_images']['shape']}; "
        f"flattened {facts['flattened_train']['shape']} float32 0..1"
    )
    return {"metrics": facts, "headline": headline, "plots": [plot], "data": ctx.mnist_description}
