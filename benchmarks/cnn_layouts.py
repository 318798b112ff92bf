"""The CNN search's cost table: each layout's training step time against the hand-picked model's.

    python benchmarks/cnn_layouts.py --backend jax          # one backend; run one per backend
    python benchmarks/cnn_layouts.py --backend tensorflow

The 3D / 4F search (``tuning/cnn_search.py``) refuses a layout whose step costs more than
``MAX_STEP_RATIO`` times the hand-picked model's on the backend it runs on, read from the table this
writes (``tuning/cnn_layout_cost.json``). Why measured time and not multiply-adds: the pooled layout
at 16/32 filters has fewer multiply-adds than the hand-picked strided one, yet its step took about
twice as long here (its full-resolution convolution, BatchNormalization and pooling move four times
the activations), and the time is what ``--problem all``'s goal counts.

A layout is filters x Dense width x downsampling x where Dropout goes (the learning rate, the
dropout rate and the pixel shift change no step time). Each layout is timed through the project's
own pipeline (``training.input_pipeline``, batch 32, shift 1) in passes of ``--steps`` batches, each
pass right after a pass of the hand-picked model, so that a machine that slows down mid-run slows
both alike; its figure is the median over ``--rounds`` of the two passes' ratio. Layouts over the
problem's 1M parameters are left out (the search refuses them anyway). Layouts are timed cheapest
first, and one that costs at least as much as a layout already over the cap (as many filters or
more, as wide a Dense layer or wider, Dropout in as many places, the same downsampling) is not
timed: the table records it over the cap, after the layout that rules it out.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.backend import BACKENDS, DEFAULT_BACKEND  # noqa: E402  (imports no keras)

TABLE = REPO / "tuning" / "cnn_layout_cost.json"


def layouts() -> list[dict]:
    """Every layout of the search space (``models.cnn``'s HP lists), as search values minus the rates."""
    from models.cnn import DOWNSAMPLING, HP_DENSE_UNITS, HP_FILTERS

    return [
        {"filters": f, "dense_units": d, "downsample": s, "conv_dropout": c}
        for s, f, d, c in itertools.product(DOWNSAMPLING, sorted(HP_FILTERS), sorted(HP_DENSE_UNITS), (False, True))
    ]


def dominated_by(layout: dict, refused: list[dict]) -> dict | None:
    """The first of ``refused`` that ``layout`` costs at least as much as, or None."""
    for other in refused:
        if (
            layout["downsample"] == other["downsample"]
            and layout["filters"] >= other["filters"]
            and layout["dense_units"] >= other["dense_units"]
            and layout["conv_dropout"] >= other["conv_dropout"]
        ):
            return other
    return None


def _build(layout: dict):
    from models.cnn import HAND_PICKED, ConstraintError, build_cnn_from_values, check_cnn_constraints

    model = build_cnn_from_values({**HAND_PICKED, **layout})
    try:
        check_cnn_constraints(model)
    except ConstraintError:
        return None
    return model


def measure(data_dir: str | None, steps: int, rounds: int, seed: int) -> dict:
    """Ratio and ms per step of every layout under the parameter limit, against the hand-picked model."""
    import keras

    from data_prep import resolve_data_dir
    from data_prep.mnist import load_mnist, one_hot, to_float
    from models.cnn import BATCH_SIZE, HAND_PICKED
    from training import input_pipeline, set_seed
    from tuning.cnn_search import LAYOUT_KEYS, MAX_STEP_RATIO, layout_key

    (x, y), _ = load_mnist(resolve_data_dir(data_dir))
    n = steps * BATCH_SIZE
    data = input_pipeline((to_float(x)[:n, ..., None], one_hot(y)[:n]), BATCH_SIZE, seed, HAND_PICKED["shift"])

    def timed_pass(model) -> float:
        begun = time.perf_counter()
        model.fit(data, epochs=1, verbose=0)
        return 1000 * (time.perf_counter() - begun) / steps

    set_seed(seed)
    reference = _build({k: HAND_PICKED[k] for k in LAYOUT_KEYS})
    timed_pass(reference)  # compiles
    rows, refused = {}, []
    for layout in layouts():
        model = _build(layout)
        if model is None:
            continue
        key = layout_key(layout)
        ruled_out = dominated_by(layout, refused)
        if ruled_out is not None:
            rows[key] = {"over_cap_as": layout_key(ruled_out), "params": model.count_params()}
            print(f"cnn_layouts ({keras.backend.backend()}): {key}: over the cap, as {rows[key]['over_cap_as']}")
            continue
        timed_pass(model)  # compiles
        ratios, ms = [], []
        for _ in range(rounds):
            base = timed_pass(reference)
            ms.append(timed_pass(model))
            ratios.append(ms[-1] / base)
        rows[key] = {
            "ratio": round(statistics.median(ratios), 3),
            "ms_per_step": round(statistics.median(ms), 2),
            "params": model.count_params(),
        }
        print(f"cnn_layouts ({keras.backend.backend()}): {key}: {rows[key]}", flush=True)
        if rows[key]["ratio"] > MAX_STEP_RATIO:
            refused.append(layout)
        keras.backend.clear_session()
    return rows


def record(backend: str, threads: int, steps: int, rounds: int, rows: dict) -> dict:
    """This backend's entry of the table, with how and where it was measured."""
    from problems.context import git_commit, versions
    from tuning.cnn_search import HAND_PICKED_LAYOUT, MAX_STEP_RATIO

    return {
        "reference": HAND_PICKED_LAYOUT,
        "cap": MAX_STEP_RATIO,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "versions": versions(),
        "threads": threads,
        "steps_per_pass": steps,
        "rounds": rounds,
        "layouts": rows,
    }


def write(backend: str, entry: dict, path: Path = TABLE) -> None:
    """Replace ``backend``'s entry of the table, whole (the other backend's stays)."""
    import fcntl

    # One process per backend may finish at once: the lock keeps each one's read-and-replace whole.
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        table = json.loads(path.read_text()) if path.is_file() else {}
        table[backend] = entry
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
        tmp.replace(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--threads", type=int, default=1, help="threads of this process (as --jobs 2 gives each)")
    parser.add_argument("--steps", type=int, default=128, help="batches per timed pass")
    parser.add_argument("--rounds", type=int, default=3, help="timed pass pairs per layout")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", help="folder holding mnist/ (default $PS4_DATA_DIR)")
    args = parser.parse_args(argv)
    from training.backend import start_backend

    start_backend(args.backend, args.threads)  # as main.py starts it
    rows = measure(args.data_dir, args.steps, args.rounds, args.seed)
    write(args.backend, record(args.backend, args.threads, args.steps, args.rounds, rows))
    print(f"cnn_layouts: {len(rows)} layouts on {args.backend} -> {TABLE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
