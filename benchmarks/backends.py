"""Benchmark part ``backends``: the same models on TensorFlow and on JAX, through the project's pipeline.

    python benchmarks/speed.py --only backends            # ms per step and 3D's time to 0.985
    python benchmarks/backends.py --problem-all 2018      # main.py --problem all on each backend, back to back

Keras fixes its backend at import, so every figure is measured in a child process of its own
(``--measure``), the backends alternating. ``--problem-all`` runs ``main.py --problem all`` once on
TensorFlow and ``--repeats`` times on the default backend, one after the other, into a temporary
reports folder, and records each run's wall seconds in ``reports/benchmarks/problem_all.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.backend import BACKENDS, DEFAULT_BACKEND  # noqa: E402  (imports no keras)

# The shipped MLPs (their searches' chosen trials) and the final CNN, with the settings they ship with.
MODELS = ("2C", "2D", "2E", "3D")
THREADS = (1, 2)
RACE_GOAL, RACE_MAX_EPOCHS = 0.985, 3


def _build(model_id: str):
    """(compiled model, batch size, augmentation: input_pipeline's shift, rotation, zoom) of ``model_id``
    as the problems train it."""
    from models.cnn import BATCH_SIZE, build_cnn_from_values
    from models.mlp import build_mlp
    from problems.cnn import read_shipped

    if model_id == "3D":
        ours = read_shipped().settings
        return build_cnn_from_values(ours), BATCH_SIZE, {"shift": ours["shift"]}
    s, batch, augment = _mlp_training(model_id)
    return build_mlp(s["hidden_units"], s["dropout_input"], s["dropout"], s["learning_rate"]), batch, augment


def _mlp_training(model_id: str):
    """(shipped settings, batch size, augmentation: input_pipeline's shift, rotation, zoom) of the MLP ``model_id``."""
    from tuning.records import shipped_mlp_settings

    _, s = shipped_mlp_settings(model_id)
    return s, s["batch_size"], {k: s[k] for k in ("shift", "rotation", "zoom")}


def _data(model_id: str, data_dir: str | None, n: int | None = None):
    from data_prep import resolve_data_dir
    from data_prep.mnist import flatten, load_mnist, one_hot, to_float

    (x, y), (xt, yt) = load_mnist(resolve_data_dir(data_dir))
    x, xt = to_float(x)[:n], to_float(xt)
    if model_id == "3D":
        x, xt = x[..., None], xt[..., None]
    else:
        x, xt = flatten(x), flatten(xt)
    return (x, one_hot(y)[:n]), (xt, one_hot(yt))


def measure_steps(model_id: str, data_dir: str | None, steps: int, rounds: int, seed: int) -> dict:
    """ms per training step of ``model_id``: ``rounds`` epochs of ``steps`` batches after a warm-up epoch."""
    import keras

    from training import input_pipeline, set_seed

    set_seed(seed)
    model, batch, augment = _build(model_id)
    (x, y), _ = _data(model_id, data_dir, n=steps * batch)
    times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.begun = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.begun)

    model.fit(input_pipeline((x, y), batch, seed, **augment), epochs=rounds + 1, verbose=0, callbacks=[Clock()])
    per_step = [1000 * t / steps for t in times[1:]]  # the first epoch compiles
    return {"ms_per_step": round(statistics.median(per_step), 2), "best_ms_per_step": round(min(per_step), 2)}


def measure_race(data_dir: str | None, seed: int) -> dict:
    """Training seconds of the 3D model until its test accuracy reaches ``RACE_GOAL`` (scored off the clock)."""
    from data_prep.mnist import validation_split
    from training import EVAL_BATCH_SIZE, input_pipeline, set_seed, validation_size

    (x, y), test = _data("3D", data_dir)
    train, _ = validation_split(x, y, validation_size(len(x)), seed=seed)
    set_seed(seed)
    model, batch, augment = _build("3D")
    data = input_pipeline(train, batch, seed, **augment)
    spent, curve = 0.0, []
    for _ in range(RACE_MAX_EPOCHS):
        begun = time.perf_counter()
        model.fit(data, epochs=1, verbose=0)
        spent += time.perf_counter() - begun
        accuracy = float(model.evaluate(*test, batch_size=EVAL_BATCH_SIZE, verbose=0)[1])
        curve.append({"train_seconds": round(spent, 1), "test_accuracy": round(accuracy, 4)})
        if accuracy >= RACE_GOAL:
            return {"seconds_to_goal": round(spent, 1), "epochs": len(curve), "curve": curve}
    return {"seconds_to_goal": None, "epochs": len(curve), "curve": curve}


def measure_warp(data_dir: str | None, steps: int, rounds: int) -> list[dict]:
    """ms per batch of the JAX loader's affine warp, numpy against XLA (``training.pipeline.jax_warp``),
    for 2C's and 2D's shipped augmentation and batch size: ``steps`` batches of MNIST a pass (as many
    as its 60,000 images hold), the two alternating, ``rounds`` passes each after a warm-up (the
    median and the best)."""
    import numpy as np

    from training.pipeline import draw_warps, jax_warp, warp_images

    rows = []
    for model_id in ("2C", "2D"):
        _, batch, augment = _mlp_training(model_id)
        (images, _), _ = _data(model_id, data_dir, n=steps * batch)  # flattened, as the loader holds them
        inverse, moves = draw_warps(
            len(images), augment["shift"], augment["rotation"], augment["zoom"], np.random.default_rng(0)
        )
        parts = [slice(i * batch, (i + 1) * batch) for i in range(min(steps, len(images) // batch))]
        ways = {"numpy": warp_images, "xla": lambda *a, **k: jax_warp()(*a, **k).block_until_ready()}
        times = {name: [] for name in ways}
        for _ in range(rounds + 1):
            for name, warp in ways.items():
                begun = time.perf_counter()
                for part in parts:
                    warp(images[part], inverse[part], moves[part], image_shape=(28, 28))
                times[name].append(1000 * (time.perf_counter() - begun) / len(parts))
        row = {"model": model_id, "batch_size": batch, **{k: augment[k] for k in ("rotation", "zoom")}}
        for name, found in times.items():
            row[f"{name}_ms"], row[f"{name}_best_ms"] = round(statistics.median(found[1:]), 3), round(min(found[1:]), 3)
        row["xla_over_numpy"] = round(row["xla_ms"] / row["numpy_ms"], 2)
        rows.append(row)
    return rows


def _child(backend: str, threads: int, task: list[str], data_dir: str | None) -> dict:
    """Run ``task`` (this file's --measure arguments) in a fresh process on ``backend`` with ``threads``."""
    cmd = [sys.executable, __file__, "--measure", "--backend", backend, "--threads", str(threads), *task]
    cmd += ["--data-dir", data_dir] if data_dir else []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(task)} on {backend} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_backends(data_dir: str | None, steps: int, rounds: int, seed: int, race: bool = True) -> dict:
    """The part's figures: each model's ms per step on each backend at 1 and 2 threads, the backends
    alternating, and (``race``) 3D's training seconds to 0.985 on each backend with one thread."""
    rows = []
    for model_id in MODELS:
        for threads in THREADS:
            row = {"model": model_id, "threads": threads}
            for backend in BACKENDS:
                task = ["--model", model_id, "--steps", str(steps), "--rounds", str(rounds)]
                found = _child(backend, threads, task, data_dir)
                row[f"{backend}_ms"], row[f"{backend}_best_ms"] = found["ms_per_step"], found["best_ms_per_step"]
                print(f"backends: {model_id}, {threads} thread(s), {backend}: {found}", flush=True)
            row["jax_over_tensorflow"] = round(row["jax_ms"] / row["tensorflow_ms"], 2)
            rows.append(row)
    result = {"steps": rows, "steps_per_pass": steps, "passes": rounds}
    result["warp"] = _child("jax", 1, ["--warp", "--steps", str(steps), "--rounds", str(rounds)], data_dir)
    print(f"backends: the JAX loader's warp, numpy against XLA: {result['warp']}", flush=True)
    if race:
        result["race"] = {}
        for backend in BACKENDS:
            result["race"][backend] = _child(backend, 1, ["--race"], data_dir)
            print(f"backends: 3D to {RACE_GOAL} on {backend}: {result['race'][backend]}", flush=True)
    return result


def cpu_description() -> str:
    """The CPU's model name and whether it has AVX-512 (TensorFlow's and XLA's kernels differ by it), from
    /proc/cpuinfo; "unknown" elsewhere."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    names = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")]
    return f"{names[0] if names else 'unknown'}, {'AVX-512' if 'avx512f' in info else 'no AVX-512'}"


def scored_problems(edition_reports: Path) -> list[dict]:
    """Each scored problem's mean test accuracy in a run's reports against its goal (`metrics.goal_test_accuracy`)."""
    found = []
    for path in sorted(edition_reports.glob("*/result.json")):
        metrics = json.loads(path.read_text())["metrics"]
        if "goal_test_accuracy" in metrics:
            found.append(
                {
                    "id": path.parent.name,
                    "test_accuracy": round(metrics["test_accuracy"], 4),
                    "goal": metrics["goal_test_accuracy"],
                    "reached_goal": metrics["reached_goal"],
                }
            )
    return found


def time_problem_all(edition: str, backend: str, seeds: int, data_dir: str | None, keep: Path | None) -> dict:
    """One ``main.py --problem all`` on ``backend`` with ``seeds`` seeds, into a fresh temporary reports and
    tuner folder: its wall seconds, exit status, missed targets and goals, and each problem's time. With
    ``keep``, its reports of the edition are copied to ``keep/<edition>``."""
    import shutil

    with tempfile.TemporaryDirectory(prefix="problem_all_") as tmp:
        reports = Path(tmp, "reports", edition)
        # The committed reports' wall times order the jobs and group the short problems, as on a fresh clone.
        shutil.copytree(REPO / "reports" / edition, reports)
        cmd = [sys.executable, str(REPO / "main.py"), "--problem", "all", "--edition", edition, "--quiet"]
        cmd += ["--backend", backend, "--seeds", str(seeds), "--out", f"{tmp}/reports", "--tuner-dir", f"{tmp}/tuner"]
        cmd += ["--data-dir", data_dir] if data_dir else []
        print(f"problem_all: {edition} on {backend}, {seeds} seed(s) ...", flush=True)
        begun = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - begun
        scored = scored_problems(reports)
        run = {
            "backend": backend,
            "seeds": seeds,
            "exit_status": done.returncode,
            "wall_seconds": round(wall, 1),
            "targets_missed": (reports / "summary.md").read_text().count("**no**"),  # the problem set's (2C 0.975)
            "goals_missed": sum(not p["reached_goal"] for p in scored),  # the goals (2C 0.982, ... 3D 0.993)
            "scored": scored,
            "problems": json.loads((reports / "run_all.json").read_text())["problems"],
        }
        if keep is not None:
            shutil.rmtree(keep / edition, ignore_errors=True)
            shutil.copytree(reports, keep / edition)
    print(f"problem_all: {edition} on {backend}, {seeds} seed(s): {wall:.0f} s, exit {done.returncode}", flush=True)
    return run


def run_problem_all(
    edition: str, repeats: int, data_dir: str | None, out: Path, keep: Path | None = None, seeds: int = 0
) -> dict:
    """``main.py --problem all`` on TensorFlow once, then ``repeats`` times on the default backend, back
    to back (``time_problem_all``); records them in ``out/problem_all.json`` and returns the record. With
    ``seeds`` > 1, one more default-backend run with ``--seeds seeds`` (issue 18's three seeds against
    TensorFlow's one). With ``keep``, the last run's reports of the edition are copied to ``keep/<edition>``."""
    from problems.context import git_commit, versions
    from training.files import atomic_write_text

    commit = git_commit()  # taken before the runs: they rewrite nothing outside the temporary folders
    plan = [("tensorflow", 1)] + [(DEFAULT_BACKEND, 1)] * repeats + ([(DEFAULT_BACKEND, seeds)] if seeds > 1 else [])
    runs = [
        time_problem_all(edition, backend, n_seeds, data_dir, keep if i == len(plan) - 1 else None)
        for i, (backend, n_seeds) in enumerate(plan)
    ]
    default = [r["wall_seconds"] for r in runs if r["backend"] == DEFAULT_BACKEND and r["seeds"] == 1]
    found = {
        "edition": edition,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "versions": versions(),
        "cpus": os.cpu_count(),
        "cpu": cpu_description(),
        "runs": runs,
        "default_backend": DEFAULT_BACKEND,
    }
    if default:  # --repeats 0 times only the --seeds run against TensorFlow
        median = statistics.median(default)
        found.update(
            default_median_seconds=median,
            default_largest_deviation=round(max(abs(s - median) / median for s in default), 3),
            ratio_to_tensorflow=round(median / runs[0]["wall_seconds"], 3),
        )
    if seeds > 1:
        found[f"seeds_{seeds}_ratio_to_tensorflow"] = round(runs[-1]["wall_seconds"] / runs[0]["wall_seconds"], 3)
    path = out / "problem_all.json"
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    recorded[edition] = found
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(recorded, indent=2) + "\n")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # a child's one measurement
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", choices=MODELS)
    parser.add_argument("--race", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warp", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", help="folder holding mnist/ (default $PS4_DATA_DIR)")
    parser.add_argument("--problem-all", metavar="EDITION", help="time main.py --problem all on each backend")
    parser.add_argument("--repeats", type=int, default=3, help="default-backend runs of --problem all")
    parser.add_argument("--out", default=str(REPO / "reports" / "benchmarks"))
    parser.add_argument("--seeds", type=int, default=0, help="then one default-backend run with --seeds N")
    parser.add_argument("--keep-reports", metavar="DIR", help="copy the last run's reports to DIR/<edition>")
    args = parser.parse_args(argv)
    if args.problem_all:
        keep = Path(args.keep_reports) if args.keep_reports else None
        found = run_problem_all(args.problem_all, args.repeats, args.data_dir, Path(args.out), keep, args.seeds)
        print(json.dumps(found, indent=2))
        return 0
    if not args.measure:
        parser.error("give --problem-all EDITION here; the per-step part runs as `speed.py --only backends`")
    from training.backend import start_backend

    start_backend(args.backend, args.threads)  # as main.py starts it
    if args.race:
        found = measure_race(args.data_dir, args.seed)
    elif args.warp:
        found = measure_warp(args.data_dir, args.steps, args.rounds)
    else:
        found = measure_steps(args.model, args.data_dir, args.steps, args.rounds, args.seed)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
