"""Speed benchmark: where the training time goes, measured side by side in one run on one machine.

    python benchmarks/speed.py                 # everything: 30-45 minutes on 2 cores
    python benchmarks/speed.py --only cnn      # one or more parts (see PARTS)

Parts (each writes into ``reports/benchmarks/speed.json``, ``speed.md`` and ``speed.png``):
- ceiling: float32 4096x4096 matrix products, the machine's practical GFLOP/s.
- levers: ms per training step of the 3D CNN at batch 32 for each input pipeline (Keras'
  RandomTranslation as the project used before, the whole-pixel gather shift it uses now, no shift)
  and steps_per_execution 1 or 64: the measured reason for today's defaults.
- throughput: samples per second of each tuned MLP and of the 3D CNN through the project's
  pipeline, and the GFLOP/s that makes (3 x the forward pass's multiply-adds x 2) against the ceiling.
- race: time to 0.985 and 0.990 test accuracy (training time only; the test set is scored after
  every epoch, off the clock), seconds per epoch and final accuracy of our 3D model against the
  course's starter CNN, the 2018 write-up's final CNN and keras.io's simple convnet, each through
  plain ``model.fit`` on the same 55,000 images, and ours also through the project's pipeline.
- cnn: the 3D model's two layouts (``models.cnn.build_cnn_final(downsample=...)``): stride-1
  convolutions followed by 2x2 max pooling (before) against stride-2 convolutions (now): ms per
  batch-32 step, timed in alternation, and validation accuracy after the final model's 10 epochs
  at p = 0.1: the evidence behind the strided layout (both with Dropout in the convolution stages).
- conv_dropout: the final model with Dropout after each convolution stage too (before) against
  Dropout only before the classifier (now), on two seeds, each with its own validation split: ms
  per step and validation accuracy after 10 epochs at p = 0.1.
- problems: the wall time of ``main.py --problem all`` per edition and per problem, read from the
  ``run_all.json`` files that such a run leaves in ``reports/<edition>/``.
- backends (``benchmarks/backends.py``): ms per training step of each shipped model (2C, 2D, 2E, 3D)
  on TensorFlow and on JAX at 1 and 2 threads through the project's pipeline, each in a process of
  its own, the backends alternating; the JAX loader's affine warp per batch in numpy and compiled
  by XLA; 3D's training seconds to 0.985 test accuracy on each; and the
  ``--problem all`` wall times per backend that ``benchmarks/backends.py --problem-all`` recorded.

Timings on shared machines are noisy: compare the ratios within one run, not absolute seconds
across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PARTS = ("ceiling", "levers", "throughput", "race", "cnn", "conv_dropout", "problems", "backends")
THRESHOLDS = (0.985, 0.990)
# The dropout rate of the hand-made layout comparisons (parts cnn and conv_dropout), as they were run.
OURS_DROPOUT = 0.1
WRITEUP = "2018 write-up final CNN"


def forward_flops(model) -> int:
    """Multiply-adds x 2 of one sample's forward pass through the Dense and Conv2D layers."""
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            flops += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, oh, ow, _ = layer.output.shape
            flops += 2 * kh * kw * cin * cout * oh * ow
    return flops


def measure_ceiling(size: int = 4096, repeats: int = 5) -> float:
    """Best GFLOP/s of a float32 ``size`` x ``size`` matrix product."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    tf.linalg.matmul(a, b).numpy()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def legacy_dataset(x, y, batch_size: int, seed: int, shift: int):
    """The project's input pipeline before this benchmark: Keras' RandomTranslation as a tf.data map."""
    import keras
    import tensorflow as tf

    aug = keras.layers.RandomTranslation(
        shift / 28, shift / 28, fill_mode="constant", interpolation="nearest", seed=seed
    )
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size)
    return ds.map(lambda xb, yb: (aug(xb, training=True), yb)).prefetch(2)


def ms_per_step(model, dataset, steps: int, rounds: int = 3) -> float:
    """Median ms per training step over ``rounds`` passes of ``steps`` batches, after a warm-up pass."""
    import numpy as np

    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000 / steps


def run_levers(train, seed: int, steps: int) -> list[dict]:
    """3D CNN ms per step at batch 32: three pipelines x steps_per_execution 1 and 64, interleaved."""
    import training
    from problems.cnn import build_for, read_shipped

    ours = read_shipped().settings
    pipelines = {
        "RandomTranslation shift 1 (before)": lambda: legacy_dataset(*train, 32, seed, 1).repeat(),
        "gather shift 1 (now)": lambda: training.make_dataset(*train, 32, seed, shift=1).repeat(),
        "no shift": lambda: training.make_dataset(*train, 32, seed, shift=0).repeat(),
    }
    rows = []
    for spe in (1, 64):
        for name, make in pipelines.items():
            training.set_seed(seed)
            model = build_for(ours["dropout"], train, ours)
            model.steps_per_execution = spe  # before the first fit, so the train function is built with it
            ms = ms_per_step(model, make(), steps)
            rows.append({"pipeline": name, "steps_per_execution": spe, "ms_per_step": round(ms, 2)})
            print(f"levers: {name:36s} spe {spe:2d}: {ms:6.2f} ms/step", flush=True)
    base = rows[0]["ms_per_step"]
    for row in rows:
        row["speed_up"] = round(base / row["ms_per_step"], 2)
    return rows


def run_throughput(train_flat, train_img, seed: int, steps: int, ceiling: float) -> list[dict]:
    """Samples per second of the shipped MLPs (their batch size and shift) and the 3D CNN (batch 32, shift 1)."""
    import training
    from models.mlp import build_mlp
    from problems.cnn import build_for, read_shipped
    from tuning.records import shipped_mlp_settings

    cases = []
    for key in ("2C", "2D", "2E"):
        _, s = shipped_mlp_settings(key)

        def make_mlp(s=s):
            return build_mlp(s["hidden_units"], s["dropout_input"], s["dropout"], s["learning_rate"])

        cases.append((f"MLP {key} {list(s['hidden_units'])}", make_mlp, train_flat, s["batch_size"], s["shift"]))
    ours = read_shipped().settings
    cases.append(("3D CNN", lambda: build_for(ours["dropout"], train_img, ours), train_img, 32, ours["shift"]))
    rows = []
    for name, make, data, batch, shift in cases:
        training.set_seed(seed)
        model = make()
        ds = training.make_dataset(*data, batch, seed, shift=shift).repeat()
        ms = ms_per_step(model, ds, steps)
        per_second = batch * 1000 / ms
        gflops = 3 * forward_flops(model) * per_second / 1e9
        rows.append(
            {
                "model": name,
                "batch_size": batch,
                "ms_per_step": round(ms, 2),
                "samples_per_second": round(per_second),
                "train_mflop_per_sample": round(3 * forward_flops(model) / 1e6, 2),
                "gflop_per_second": round(gflops, 1),
                "share_of_ceiling": round(gflops / ceiling, 3),
            }
        )
        print(f"throughput: {name:28s} {per_second:8.0f} samples/s, {gflops:6.1f} GFLOP/s", flush=True)
    return rows


def race_entries(train, seed: int) -> list[dict]:
    """The contestants: name, factory, batch size, and whether it trains through the project's pipeline."""
    import training
    from models.cnn import build_cnn_2018_final, build_keras_io_convnet, build_starter_cnn
    from problems.cnn import BATCH_SIZE, FINAL_EPOCHS, build_for, read_shipped

    ours = read_shipped().settings
    decay = FINAL_EPOCHS * training.steps_per_epoch(len(train[0]), BATCH_SIZE)
    return [
        {"name": WRITEUP, "build": build_cnn_2018_final, "batch": 32, "pipeline": False},
        {"name": "course starter CNN", "build": build_starter_cnn, "batch": 32, "pipeline": False},
        {"name": "keras.io simple convnet", "build": build_keras_io_convnet, "batch": 128, "pipeline": False},
        {
            "name": "ours (3D), plain fit",
            "build": lambda: build_for(ours["dropout"], train, ours),
            "batch": 32,
            "pipeline": False,
        },
        {
            "name": "ours (3D), project pipeline",
            "build": lambda: build_for(ours["dropout"], train, ours, decay_steps=decay),
            "batch": BATCH_SIZE,
            "pipeline": True,
            "shift": ours["shift"],
        },
    ]


def run_race(train, test, seed: int, max_epochs: int, names=None) -> list[dict]:
    """Train each contestant (or those in ``names``) epoch by epoch until it reaches 0.990 test
    accuracy or ``max_epochs``; the 2018 write-up's model is the reference of the ratios."""
    import training

    rows = []
    for entry in race_entries(train, seed):
        if names is not None and entry["name"] not in names:
            continue
        training.set_seed(seed)
        model = entry["build"]()
        clock, curve, reached = 0.0, [], {}
        ds = (
            training.make_dataset(*train, entry["batch"], seed, shift=entry.get("shift", 0))
            if entry["pipeline"]
            else None
        )
        for epoch in range(max_epochs):
            start = time.perf_counter()
            if ds is not None:
                model.fit(ds, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
            else:
                model.fit(*train, batch_size=entry["batch"], epochs=epoch + 1, initial_epoch=epoch, verbose=0)
            clock += time.perf_counter() - start
            accuracy = float(model.evaluate(*test, batch_size=training.EVAL_BATCH_SIZE, verbose=0)[1])
            curve.append({"epoch": epoch + 1, "train_seconds": round(clock, 2), "test_accuracy": accuracy})
            for t in THRESHOLDS:
                if accuracy >= t and t not in reached:
                    reached[t] = round(clock, 2)
            print(f"race: {entry['name']:30s} epoch {epoch + 1}: {accuracy:.4f} at {clock:6.1f} s", flush=True)
            if len(reached) == len(THRESHOLDS):
                break
        rows.append(
            {
                "model": entry["name"],
                "params": model.count_params(),
                "batch_size": entry["batch"],
                "through": "project pipeline" if entry["pipeline"] else "plain model.fit",
                "seconds_per_epoch": round(clock / len(curve), 2),
                "epochs_run": len(curve),
                "final_test_accuracy": curve[-1]["test_accuracy"],
                **{f"seconds_to_{t:.3f}": reached.get(t) for t in THRESHOLDS},
                "curve": curve,
            }
        )
    ref = next(r for r in rows if r["model"] == WRITEUP)
    for row in rows:
        for t in THRESHOLDS:
            mine, theirs = row[f"seconds_to_{t:.3f}"], ref[f"seconds_to_{t:.3f}"]
            row[f"ratio_to_writeup_{t:.3f}"] = round(mine / theirs, 3) if mine and theirs else None
    return rows


def alternating_step_times(models: dict, train, seed: int, steps: int, rounds: int) -> dict[str, list[float]]:
    """ms per step of each of ``models`` (name -> compiled CNN) on the final model's pipeline, over
    ``rounds`` passes of ``steps`` batches taken in turn after a warm-up pass each, so that a machine
    that slows down mid-run slows all alike."""
    import training
    from models.cnn import BATCH_SIZE, HAND_PICKED

    timed = {}
    for name, model in models.items():
        ds = training.make_dataset(*train, BATCH_SIZE, seed, shift=HAND_PICKED["shift"]).repeat()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)  # warm-up: tracing
        timed[name] = (model, ds, [])
    for _ in range(rounds):
        for model, ds, times in timed.values():
            start = time.perf_counter()
            model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
            times.append((time.perf_counter() - start) * 1000 / steps)
    return {name: times for name, (_, _, times) in timed.items()}


CNN_LAYOUTS = ("pool", "stride")


def run_cnn_layouts(
    train, val, seed: int, steps: int, epochs: int, rounds: int = 4, dropout: float = OURS_DROPOUT
) -> list[dict]:
    """ms per step (median of ``rounds`` alternating passes of ``steps`` batches) and validation
    accuracy after ``epochs`` epochs of the final model's training, for each ``CNN_LAYOUTS`` entry."""
    import numpy as np

    import training
    from models.cnn import BATCH_SIZE, HAND_PICKED, build_cnn_final

    def build(layout: str, decay_steps=None):
        training.set_seed(seed)
        # Dropout in the convolution stages too, as the model had when this comparison was made.
        lr = HAND_PICKED["learning_rate"]
        return build_cnn_final(dropout, lr, decay_steps, downsample=layout, conv_dropout=True)

    # Speed first, then accuracy.
    timed = alternating_step_times({layout: build(layout) for layout in CNN_LAYOUTS}, train, seed, steps, rounds)
    rows = []
    decay = epochs * training.steps_per_epoch(len(train[0]), BATCH_SIZE)
    for layout in CNN_LAYOUTS:
        model = build(layout, decay)
        start = time.perf_counter()
        history = training.fit(model, train, val, epochs, BATCH_SIZE, seed, shift=HAND_PICKED["shift"], verbose=0)
        seconds = round(time.perf_counter() - start, 1)
        rows.append(
            {
                "layout": layout,
                "params": model.count_params(),
                "ms_per_step": round(float(np.median(timed[layout])), 2),
                "epochs": epochs,
                "dropout": dropout,
                "train_seconds": seconds,
                "val_accuracy": round(float(history.history["val_accuracy"][-1]), 4),
            }
        )
        print(
            f"cnn: {layout}: {rows[-1]['ms_per_step']} ms/step, {rows[-1]['val_accuracy']:.4f} in {seconds} s",
            flush=True,
        )
    base = rows[0]["ms_per_step"]
    for row in rows:
        row["speed_up"] = round(base / row["ms_per_step"], 2)
    return rows


CONV_DROPOUT_SEEDS = (1, 2)


def run_conv_dropout(
    x, y, seeds, steps: int, epochs: int, rounds: int = 4, dropout: float = OURS_DROPOUT
) -> list[dict]:
    """The final model with Dropout(p) after each convolution stage too (``conv_dropout=True``, the
    layout before) against Dropout only before the classifier (now): for each seed, its own
    validation split of ``x``, ``y``, ms per step (median and best of ``rounds`` alternating passes of
    ``steps`` batches) and validation accuracy after ``epochs`` epochs at p = ``dropout``."""
    import numpy as np

    import training
    from data_prep.mnist import validation_split
    from models.cnn import BATCH_SIZE, HAND_PICKED, build_cnn_final

    variants = {"conv dropout (before)": True, "no conv dropout (now)": False}
    rows = []
    for seed in seeds:
        train, val = validation_split(x, y, training.validation_size(len(x)), seed=seed)
        decay = epochs * training.steps_per_epoch(len(train[0]), BATCH_SIZE)

        def build(conv_dropout: bool, decay_steps=None, seed=seed):
            training.set_seed(seed)
            lr = HAND_PICKED["learning_rate"]
            return build_cnn_final(dropout, lr, decay_steps, conv_dropout=conv_dropout)

        timed = alternating_step_times({n: build(c) for n, c in variants.items()}, train, seed, steps, rounds)
        for name, conv_dropout in variants.items():
            model = build(conv_dropout, decay)
            start = time.perf_counter()
            history = training.fit(model, train, val, epochs, BATCH_SIZE, seed, shift=HAND_PICKED["shift"], verbose=0)
            times = timed[name]
            rows.append(
                {
                    "variant": name,
                    "seed": seed,
                    "params": model.count_params(),
                    "ms_per_step": round(float(np.median(times)), 2),
                    "best_ms_per_step": round(float(min(times)), 2),
                    "epochs": epochs,
                    "dropout": dropout,
                    "train_seconds": round(time.perf_counter() - start, 1),
                    "val_accuracy": round(float(history.history["val_accuracy"][-1]), 4),
                }
            )
            print(
                f"conv_dropout: {name}, seed {seed}: {rows[-1]['ms_per_step']} ms/step, "
                f"{rows[-1]['val_accuracy']:.4f} in {rows[-1]['train_seconds']} s",
                flush=True,
            )
    return rows


def read_problem_times(reports: Path) -> list[dict]:
    """Per-edition wall time of the last ``--problem all`` run, from ``reports/<edition>/run_all.json``."""
    rows = []
    for path in sorted(reports.glob("*/run_all.json")):
        run = json.loads(path.read_text())
        rows.append(
            {
                "edition": run["edition"],
                "total_seconds": run["wall_seconds"],
                "problems": run["problems"],
                "date": run["date"],
                "jobs": run.get("jobs", 1),  # runs before --jobs ran one problem at a time
                "threads": run.get("threads"),
                "processes": run.get("processes", []),
            }
        )
    return rows


def _table(rows: list[dict], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in columns) + " |")
    return lines


def render(result: dict) -> str:
    """speed.md: the run's header, then a section for each part ``result`` holds, in PARTS' order."""
    lines = _render_header(result)
    for section in (
        _render_levers,
        _render_throughput,
        _render_race,
        _render_cnn,
        _render_conv_dropout,
        _render_problems,
        _render_backends,
    ):
        lines += section(result)
    return "\n".join(lines) + "\n"


def _render_header(result: dict) -> list[str]:
    """Title, machine and versions; which parts' figures are older; the ceiling, if measured."""
    lines = [
        "# Speed benchmark",
        "",
        f"Generated by `python benchmarks/speed.py`; do not edit. {result['date']}, seed {result['seed']}, "
        f"{result['cpus']} CPUs, {result['versions'].get('tensorflow')} / keras {result['versions'].get('keras')}. "
        "Ratios are measured side by side in this one run; absolute seconds are context.",
    ]
    dates = result.get("part_dates", {})
    if dates and len(set(dates.values())) > 1:
        lines += [
            "",
            "Parts kept from earlier runs (possibly another machine): "
            + ", ".join(f"{part} {day}" for part, day in sorted(dates.items()) if day != result["date"])
            + ".",
        ]
    if "ceiling_gflops" in result:
        lines += ["", f"Float32 matrix-product ceiling: **{result['ceiling_gflops']:.0f} GFLOP/s** (4096 x 4096)."]
    return lines


def _render_levers(result: dict) -> list[str]:
    """The levers part's table, or nothing."""
    if not result.get("levers"):
        return []
    lines = ["", "## Levers: 3D CNN, batch 32, ms per training step", ""]
    return lines + _table(result["levers"], ["pipeline", "steps_per_execution", "ms_per_step", "speed_up"])


def _render_throughput(result: dict) -> list[str]:
    """The throughput part's table, or nothing."""
    if not result.get("throughput"):
        return []
    lines = ["", "## Throughput against the ceiling (project pipeline)", ""]
    return lines + _table(
        result["throughput"],
        ["model", "batch_size", "ms_per_step", "samples_per_second", "train_mflop_per_sample",
         "gflop_per_second", "share_of_ceiling"],
    )  # fmt: skip


def _render_race(result: dict) -> list[str]:
    """The race part's table, or nothing."""
    if not result.get("race"):
        return []
    lines = ["", "## Time to test accuracy (training seconds; scoring off the clock)", ""]
    cols = ["model", "params", "batch_size", "through", "seconds_per_epoch", "epochs_run", "final_test_accuracy"]
    cols += [f"seconds_to_{t:.3f}" for t in THRESHOLDS] + [f"ratio_to_writeup_{t:.3f}" for t in THRESHOLDS]
    lines += _table(result["race"], cols)
    return lines + ["", "Empty cells: the threshold was not reached within the epochs run."]


def _render_cnn(result: dict) -> list[str]:
    """The cnn part's table with the goal it aims at, or nothing."""
    if not result.get("cnn"):
        return []
    lines = ["", "## 3D CNN layout: max pooling against stride-2 convolutions (validation split)", ""]
    lines += ["Both with Dropout after each convolution stage, as the model had then.", ""]
    lines += _table(
        result["cnn"],
        ["layout", "params", "ms_per_step", "speed_up", "epochs", "dropout", "train_seconds", "val_accuracy"],
    )
    from problems.registry import lookup

    goal = lookup("2018", "3D").options["goal"]
    return lines + ["", f"The goal is {goal} test accuracy; the test set is not used here."]


def _render_conv_dropout(result: dict) -> list[str]:
    """The conv_dropout part's table, or nothing."""
    if not result.get("conv_dropout"):
        return []
    title = "## 3D CNN: Dropout in the convolution stages or only before the classifier (validation split)"
    lines = ["", title, ""]
    lines += _table(
        result["conv_dropout"],
        ["variant", "seed", "params", "ms_per_step", "best_ms_per_step", "epochs", "dropout"]
        + ["train_seconds", "val_accuracy"],
    )
    return lines + [
        "",
        "Each seed draws its own validation split. ms per step: median and best of alternating passes; "
        "the best is the fairer figure on a machine whose passes sometimes run at half speed.",
    ]


def _render_problems(result: dict) -> list[str]:
    """Each edition's last ``--problem all`` run: per problem, and per process if it ran several, or nothing."""
    if not result.get("problems"):
        return []
    lines = ["", "## `main.py --problem all`, wall seconds", ""]
    for run in result["problems"]:
        jobs = run.get("jobs", 1)
        how = (
            f"{jobs} processes at a time, {run.get('threads') or 'default'} thread(s) each"
            if jobs > 1
            else "one process"
        )
        lines += [f"### Edition {run['edition']}: {run['total_seconds']:.0f} s in all, {how} ({run['date']})", ""]
        lines += _table(run["problems"], ["id", "wall_seconds"]) + [""]
        if run.get("processes"):
            lines += ["Processes (each one's whole life, start-up included):", ""]
            rows = [{"problems": ", ".join(p["problems"]), "seconds": p["seconds"]} for p in run["processes"]]
            lines += _table(rows, ["problems", "seconds"]) + [""]
    return lines


def _render_backends(result: dict) -> list[str]:
    lines = []
    backends = result.get("backends")
    if backends:
        lines += ["", "## Backends: ms per training step through the project's pipeline", ""]
        lines += [
            f"Median (and best) of {backends['passes']} passes of {backends['steps_per_pass']} steps after a "
            "warm-up pass, each model and backend in a process of its own, the backends alternating.",
            "",
        ]
        lines += _table(
            backends["steps"],
            ["model", "threads", "tensorflow_ms", "tensorflow_best_ms", "jax_ms", "jax_best_ms", "jax_over_tensorflow"],
        )
        if backends.get("warp"):
            lines += [
                "",
                "The JAX loader's affine warp (2C's and 2D's augmentation), ms per batch, numpy against XLA:",
                "",
            ]
            columns = ["model", "batch_size", "rotation", "zoom", "numpy_ms", "numpy_best_ms", "xla_ms", "xla_best_ms"]
            lines += _table(backends["warp"], [*columns, "xla_over_numpy"])
        for backend, race in backends.get("race", {}).items():
            reached = "not reached"
            if race["seconds_to_goal"]:
                reached = f"{race['seconds_to_goal']} s ({race['epochs']} epochs)"
            lines += ["", f"- 3D to 0.985 test accuracy on {backend}, one thread: {reached}; curve {race['curve']}"]
    for edition, run in sorted(result.get("problem_all", {}).items()):
        at = f"{run['date']}, commit {run['git_commit'][:7]}" if "git_commit" in run else run["date"]
        lines += ["", f"### `main.py --problem all`, edition {edition}, back to back ({at})", ""]
        rows = [
            {**r, "test_accuracy": ", ".join(f"{p['id']} {p['test_accuracy']}" for p in r.get("scored", []))}
            for r in run["runs"]
        ]
        columns = ["backend", "seeds", "wall_seconds", "exit_status", "targets_missed", "goals_missed", "test_accuracy"]
        lines += _table(rows, columns)
        ratios = []
        if "default_median_seconds" in run:  # absent when only the --seeds run was timed (--repeats 0)
            ratios.append(
                f"Default ({run['default_backend']}) median {run['default_median_seconds']} s, largest deviation "
                f"from it {run['default_largest_deviation']:.1%}; ratio to TensorFlow {run['ratio_to_tensorflow']}."
            )
        for key in (k for k in run if k.startswith("seeds_")):  # the --seeds N run against TensorFlow's one seed
            ratios.append(f"With --seeds {key.split('_')[1]}: ratio to TensorFlow {run[key]}.")
        lines += ["", " ".join(ratios)]
    return lines


def plot(result: dict, path: Path) -> None:
    from problems.report import pyplot, save_figure

    plt = pyplot()
    fig, (ax_race, ax_lever) = plt.subplots(1, 2, figsize=(12, 4))
    for row in result.get("race", []):
        seconds = [c["train_seconds"] for c in row["curve"]]
        ax_race.plot(seconds, [c["test_accuracy"] for c in row["curve"]], marker="o", label=row["model"])
    for t in THRESHOLDS:
        ax_race.axhline(t, color="grey", lw=0.8, ls="--")
    ax_race.set(xlabel="training seconds", ylabel="test accuracy", ylim=(0.97, 1.0), title="time to accuracy")
    ax_race.legend(fontsize=7)
    levers = result.get("levers", [])
    if levers:
        labels = [f"{r['pipeline']}\nspe {r['steps_per_execution']}" for r in levers]
        ax_lever.barh(labels, [r["ms_per_step"] for r in levers])
        ax_lever.set(xlabel="ms per step (3D CNN, batch 32)", title="input pipeline and steps_per_execution")
        ax_lever.tick_params(labelsize=7)
    save_figure(fig, path)


def main(argv=None) -> int:
    """Run the parts asked for, keep the others' figures from the last speed.json, write all three files."""
    args = _parse_args(argv)

    import keras

    from data_prep import DataError
    from problems.context import versions

    try:
        data = _load_data(args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "speed.json"
    result = json.loads(json_path.read_text()) if json_path.is_file() else {}  # parts not rerun are kept
    result.update(
        seed=args.seed,
        cpus=os.cpu_count(),
        versions=versions(),
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        keras_backend=keras.backend.backend(),
    )
    started = time.perf_counter()
    _run_parts(args, data, result)
    problem_all = out / "problem_all.json"
    if problem_all.is_file():
        result["problem_all"] = json.loads(problem_all.read_text())
    # Parts not rerun keep their figures, possibly from another machine or day: each part's date says.
    result.setdefault("part_dates", {}).update({part: result["date"] for part in args.only})
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    _write(result, out, json_path)
    return 0


def _parse_args(argv) -> argparse.Namespace:
    """The command line; ``--quick`` shrinks the timing passes and the race to a smoke test."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to run")
    parser.add_argument("--data-dir", help="folder holding mnist/ (default $PS4_DATA_DIR, else Keras' download)")
    parser.add_argument("--out", default=str(REPO / "reports" / "benchmarks"), help="output folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=256, help="steps per timing pass (levers, throughput)")
    parser.add_argument("--max-epochs", type=int, default=6, help="epoch cap per race contestant")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2,000 training images, 8 steps a pass, 1 epoch a contestant"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.max_epochs = 8, 1
    return args


def _load_data(args) -> dict:
    """MNIST as the parts use it: all 60,000 training images (conv_dropout draws its own splits), the
    problems' 55,000 / 5,000 split of them, flattened copies for the MLPs, and the test set; with
    ``--quick``, slices. Raises DataError when the data cannot be had."""
    from data_prep import resolve_data_dir
    from data_prep.mnist import flatten, load_mnist, one_hot, to_float, validation_split
    from training import validation_size

    (x, y), (xt, yt) = load_mnist(resolve_data_dir(args.data_dir))
    x, y, xt, yt = to_float(x)[..., None], one_hot(y), to_float(xt)[..., None], one_hot(yt)
    train, val = validation_split(x, y, validation_size(len(x)), seed=args.seed)  # the problems' 55,000 / 5,000
    if args.quick:
        train, (xt, yt) = (train[0][:2000], train[1][:2000]), (xt[:1000], yt[:1000])
    flat, val_flat = (flatten(train[0]), train[1]), (flatten(val[0]), val[1])
    return {"all": (x, y), "train": train, "val": val, "test": (xt, yt), "flat": flat, "val_flat": val_flat}


def _run_parts(args, data: dict, result: dict) -> None:
    """Run the parts named by ``--only``, in PARTS' order, each one's figures into ``result``."""
    train, val, flat = data["train"], data["val"], data["flat"]
    if "ceiling" in args.only or "throughput" in args.only:
        result["ceiling_gflops"] = round(measure_ceiling(), 1)
        print(f"ceiling: {result['ceiling_gflops']} GFLOP/s", flush=True)
    if "levers" in args.only:
        result["levers"] = run_levers(train, args.seed, args.steps)
    if "throughput" in args.only:
        result["throughput"] = run_throughput(flat, train, args.seed, args.steps, result["ceiling_gflops"])
    if "race" in args.only:
        result["race"] = run_race(train, data["test"], args.seed, args.max_epochs)
    if "cnn" in args.only:
        result["cnn"] = run_cnn_layouts(
            train, val, args.seed, args.steps, epochs=1 if args.quick else 10, rounds=1 if args.quick else 4
        )
    if "conv_dropout" in args.only:
        x, y = data["all"]
        x_all, y_all = (x[:2840], y[:2840]) if args.quick else (x, y)
        result["conv_dropout"] = run_conv_dropout(
            x_all, y_all, CONV_DROPOUT_SEEDS, args.steps, epochs=1 if args.quick else 10, rounds=1 if args.quick else 4
        )
    if "problems" in args.only and not args.quick:
        result["problems"] = read_problem_times(REPO / "reports")
    if "backends" in args.only:
        from benchmarks.backends import run_backends

        steps, rounds = (8, 1) if args.quick else (args.steps, 3)
        result["backends"] = run_backends(args.data_dir, steps, rounds, args.seed, race=not args.quick)


def _write(result: dict, out: Path, json_path: Path) -> None:
    """speed.json, speed.md and speed.png, each replaced whole (a run stopped midway leaves the old ones)."""
    from problems.report import atomic_write_text

    atomic_write_text(json_path, json.dumps(result, indent=2) + "\n")
    atomic_write_text(out / "speed.md", render(result))
    plot(result, out / "speed.png")
    print(f"wrote {json_path.relative_to(REPO) if json_path.is_relative_to(REPO) else json_path}, speed.md, speed.png")


if __name__ == "__main__":
    sys.exit(main())
