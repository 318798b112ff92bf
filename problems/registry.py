"""One registry of problems: each entry is one implementation with its id in each edition.

2018 ``2C`` and 2023 ``3B`` are the same work, so they are one entry and run the same code. An
entry's ``run`` names its function as "module:function" so that ``--list`` and id checks stay fast
(no TensorFlow import). ``run=None`` marks a problem listed in the spec but not implemented yet.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

EDITIONS = ("2018", "2023")
DEFAULT_EDITION = "2018"


@dataclass(frozen=True)
class Problem:
    """One piece of work in the problem set.

    Attributes:
        key: the implementation's name, shared by both editions.
        ids: the problem's id in each edition that has it, e.g. {"2018": "2C", "2023": "3B"}.
        title: one line saying what it does.
        run: "module:function" of its run function, or None while not implemented.
        target: thresholds the problem set sets, e.g. {"test_accuracy": 0.975} (>=).
        reported: the write-ups' figures per edition, e.g. {"2018": {"test_accuracy": 0.9785}}.
        options: keyword arguments passed to ``run`` (lets one function serve several budgets).
    """

    key: str
    ids: dict[str, str]
    title: str
    run: str | None = None
    target: dict = field(default_factory=dict)
    reported: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)

    @property
    def implemented(self) -> bool:
        return self.run is not None

    def load_run(self):
        module, func = self.run.split(":")
        return getattr(importlib.import_module(module), func)


PROBLEMS = [
    # Section 1: deep-learning principles (TensorFlow Playground), issue 3/4.
    Problem("playground_relu", {"2018": "1Ai", "2023": "1A"}, "Playground circle: ReLU, random vs zero init"),
    Problem("playground_sigmoid", {"2018": "1Aii", "2023": "1B"}, "Playground circle: sigmoid, random vs zero init"),
    Problem("dying_relu", {"2018": "1B", "2023": "1C"}, "Dying ReLU: negatives first vs shuffled"),
    Problem("or_relu", {"2018": "1Ci", "2023": "1D"}, "OR from the fewest ReLU units"),
    Problem("xor_depth", {"2018": "1Cii", "2023": "1E"}, "XOR needs one hidden layer"),
    # Set-up and data.
    Problem(
        "versions",
        {"2018": "2A", "2023": "2A"},
        "Installed versions beside the originals",
        run="problems.setup:run_versions",
        reported={
            "2018": {"tensorflow": "1.5.0", "keras": "2.1.3"},
            "2023": {"torch": "1.13.1", "torchvision": "0.14.1"},
        },
    ),
    Problem("covid_data", {"2023": "2B"}, "COVID-19 case data: cleaning and encoding"),
    Problem("covid_linear", {"2023": "2C"}, "COVID-19: linear network (one Dense layer)"),
    Problem("covid_linear2", {"2023": "2D"}, "COVID-19: two-layer linear network"),
    Problem(
        "mnist_data",
        {"2018": "2B", "2023": "3A"},
        "MNIST: shapes, values, flattening to 784",
        run="problems.setup:run_mnist_data",
        reported={"2018": {"image_shape": [28, 28], "pixel_range": [0, 255], "flat_length": 784}},
    ),
    # Depth vs width: one run function, three budgets.
    Problem(
        "mlp_100",
        {"2018": "2C", "2023": "3B"},
        "MLP, at most 100 hidden units",
        run="problems.depth_width:run",
        target={"test_accuracy": 0.975},
        reported={"2018": {"test_loss": 0.12536, "test_accuracy": 0.9785}},
        options={"budget": "2C", "goal": 0.982},
    ),
    Problem(
        "mlp_200",
        {"2018": "2D", "2023": "3C"},
        "MLP, at most 200 hidden units, at least 2 hidden layers",
        run="problems.depth_width:run",
        target={"test_accuracy": 0.980},
        reported={"2018": {"test_loss": 0.12291, "test_accuracy": 0.9808}},
        options={"budget": "2D", "goal": 0.983},
    ),
    Problem(
        "mlp_1000",
        {"2018": "2E", "2023": "3D"},
        "MLP, at most 1000 hidden units, at least 3 hidden layers",
        run="problems.depth_width:run",
        target={"test_accuracy": 0.983},
        reported={"2018": {"test_loss": 0.06153, "test_accuracy": 0.9832}},
        options={"budget": "2E", "goal": 0.986},
    ),
    # Convolutional networks, issue 2/4.
    Problem("padding", {"2018": "3A", "2023": "4A"}, "Zero padding: output sizes, same vs valid"),
    Problem("conv_params", {"2018": "3B", "2023": "4B"}, "Conv2D parameters and output shape"),
    Problem("pooling", {"2018": "3C", "2023": "4C"}, "Average and max pooling of four 4x4 matrices"),
    Problem("pooling_noise", {"2023": "4D"}, "Pooling against missing pixels, measured"),
    Problem("tuner_comparison", {"2023": "4E"}, "Grid search vs other keras-tuner oracles"),
    Problem("cnn_final", {"2018": "3D", "2023": "4F"}, "CNN >= 0.985 under 1M parameters; dropout sweep"),
]


def _sort_key(pid: str):
    return (pid[0], pid[1:2], len(pid), pid)


def problems_for(edition: str) -> list[tuple[str, Problem]]:
    """(id, problem) pairs of ``edition``, in the problem set's order."""
    pairs = [(p.ids[edition], p) for p in PROBLEMS if edition in p.ids]
    return sorted(pairs, key=lambda pair: _sort_key(pair[0]))


def valid_ids(edition: str) -> list[str]:
    return [pid for pid, _ in problems_for(edition)]


def lookup(edition: str, problem_id: str) -> Problem:
    """The problem with ``problem_id`` (case-insensitive) in ``edition``.

    Raises:
        KeyError: with a one-line message naming the valid ids.
    """
    if edition not in EDITIONS:
        raise KeyError(f"unknown edition '{edition}'; valid editions: {', '.join(EDITIONS)}")
    for pid, problem in problems_for(edition):
        if pid.lower() == problem_id.lower():
            return problem
    raise KeyError(
        f"unknown problem '{problem_id}' for edition {edition}; valid ids: {', '.join(valid_ids(edition))}, all"
    )
