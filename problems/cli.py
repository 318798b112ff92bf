"""Command line: parse, check the problem id, dispatch to the runner. Exit codes: 0 ok, 1 a run
failed (bad data, failed search), 2 bad usage (unknown id or option)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

from problems.context import DEFAULT_OUT
from problems.registry import DEFAULT_EDITION, EDITIONS, groups, problems_for, resolve
from training.backend import (
    BACKENDS,
    DEFAULT_BACKEND,
    BackendError,
    choose_backend,
    start_backend,
)
from tuning import WORKER_TIMEOUT

EXIT_FAILED, EXIT_USAGE = 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="Reproduce the problem set's problems in Keras; results go to reports/<edition>/<id>/.",
    )
    parser.add_argument("--list", action="store_true", help="list the edition's problems and exit")
    parser.add_argument(
        "--rebuild-reports", action="store_true", help="re-render report.md and summary.md from the result.json files"
    )
    parser.add_argument(
        "--problem",
        metavar="ID|all",
        help="problem id in the chosen edition, a group id (2018: 1A runs 1Ai and 1Aii, 1C runs 1Ci and 1Cii), "
        "several separated by commas, or 'all'",
    )
    parser.add_argument("--edition", choices=EDITIONS, default=DEFAULT_EDITION, help="numbering (default 2018)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train each scored problem's final model with this many seeds (seed, seed+1, ...) and report "
        "mean and standard deviation (default 1)",
    )
    parser.add_argument("--epochs", type=int, help="override the problem's epochs, for quick looks")
    _add_data_options(parser.add_argument_group("data and output"))
    _add_search_options(parser.add_argument_group("searches, sweeps and replays"))
    _add_process_options(parser.add_argument_group("backend and processes"))
    return parser


def _add_data_options(group) -> None:
    group.add_argument(
        "--data-dir",
        help="folder holding mnist/ (default: $PS4_DATA_DIR; with neither, MNIST is downloaded by Keras)",
    )
    group.add_argument(
        "--dataset-dir",
        help="a folder of four MNIST-format IDX files to use instead of MNIST in the problems that read MNIST; "
        "results go to <out>/<folder name>/<edition>/<id>/",
    )
    group.add_argument(
        "--covid-csv",
        help="a CDC case-surveillance CSV to use instead of the shipped extract in data/covid/ (2023 2B-2D)",
    )
    group.add_argument("--out", default=DEFAULT_OUT, help=f"reports root (default {DEFAULT_OUT}/)")


def _add_search_options(group) -> None:
    group.add_argument("--tune", action="store_true", help="run the keras-tuner search instead of the stored settings")
    group.add_argument("--trials", type=int, help="tuner trials (with --tune)")
    group.add_argument("--tuner-dir", default="tuner_runs", help="where keras-tuner keeps trials (default tuner_runs/)")
    group.add_argument(
        "--worker-timeout",
        type=float,
        default=WORKER_TIMEOUT,
        help=f"distributed search: seconds the chief waits for a silent worker (default {WORKER_TIMEOUT:.0f})",
    )
    group.add_argument(
        "--tensorboard", metavar="DIR", help="write Keras TensorBoard logs (one per trial for searches) under DIR"
    )
    group.add_argument("--repeats", type=int, default=1, help="seeds per dropout-sweep point (3D/4F; default 1)")
    group.add_argument(
        "--replays",
        action="store_true",
        help="also train the write-ups' models with their own settings and the starter's dropout sweep, under "
        "the same seeds, beside ours (3D/4F; the committed reports use it; default off)",
    )
    group.add_argument(
        "--test-as-validation",
        action="store_true",
        help="reproduce the starter notebook: pass the test set as validation data (3D/4F; default off)",
    )


def _add_process_options(group) -> None:
    group.add_argument(
        "--jobs",
        type=int,
        help="processes working at once: problems of --problem all, and dropout-sweep trials (3D / 4F) "
        f"spread over worker processes (default: the number of CPUs, {usable_cpus()} here)",
    )
    group.add_argument(
        "--threads",
        type=int,
        help="TensorFlow threads per process (default: CPUs / jobs); recorded, as it changes the last digits",
    )
    group.add_argument(
        "--backend",
        choices=BACKENDS,
        help=f"Keras backend (default: $KERAS_BACKEND, else {DEFAULT_BACKEND}); tensorflow is the original setup",
    )
    group.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which a container may limit), else the count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def print_list(edition: str) -> None:
    print(f"Problems of edition {edition} (run one with --problem ID, every implemented one with --problem all):")
    for pid, problem in problems_for(edition):
        other = ", ".join(f"{e} {i}" for e, i in problem.ids.items() if e != edition)
        state = "implemented" if problem.implemented else "not yet"
        print(f"  {pid:5s} {problem.title:58s} [{state}]" + (f"  (= {other})" if other else ""))
    for group, parts in groups(edition).items():
        print(f"Group id {group} runs {' and '.join(parts)}.")


def main(argv=None) -> int:
    from tuning import stop_with_chief

    stop_with_chief()  # a search worker started by a chief goes when its chief goes
    args = build_parser().parse_args(argv)
    if args.list:
        print_list(args.edition)
        return 0
    if args.rebuild_reports:
        from problems.report import rebuild_reports

        print(f"re-rendered {rebuild_reports(args.out)} report(s) under {args.out}")
        return 0
    if not args.problem:
        print("error: give --problem ID (or --problem all), or --list to see the ids", file=sys.stderr)
        return EXIT_USAGE
    if args.problem.lower() == "all":
        selected = [(pid, p) for pid, p in problems_for(args.edition) if p.implemented]
    else:
        try:  # one id, a group id, or several of them separated by commas
            selected = [pair for part in args.problem.split(",") for pair in resolve(args.edition, part.strip())]
        except KeyError as err:
            print(f"error: {err.args[0]}", file=sys.stderr)
            return EXIT_USAGE
        selected = list({pid: (pid, p) for pid, p in selected}.values())  # each once, first mention's place
        missing = [f"{pid} ({p.title})" for pid, p in selected if not p.implemented]
        if missing:
            print(
                f"error: problem {', '.join(missing)} of edition {args.edition} is not implemented yet",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if args.dataset_dir:
        # Another data set replaces MNIST only where a problem reads MNIST; the others have nothing to rerun.
        on_mnist = [(pid, p) for pid, p in selected if p.uses_mnist(args.edition)]
        if not on_mnist:
            reads = ", ".join(pid for pid, p in problems_for(args.edition) if p.uses_mnist(args.edition))
            print(
                f"error: --dataset-dir replaces MNIST, which {args.problem} does not read; "
                f"problems of edition {args.edition} that read it: {reads}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        selected = on_mnist
    for name, value in (
        ("--seed", args.seed),
        ("--seeds", args.seeds),
        ("--epochs", args.epochs),
        ("--trials", args.trials),
        ("--repeats", args.repeats),
        ("--worker-timeout", args.worker_timeout),
        ("--jobs", args.jobs),
        ("--threads", args.threads),
    ):
        if value is not None and value < (0 if name == "--seed" else 1):
            print(f"error: {name} must be {'>= 0' if name == '--seed' else '>= 1'}, got {value}", file=sys.stderr)
            return EXIT_USAGE
    args.jobs = args.jobs or usable_cpus()
    args.threads = args.threads or max(1, usable_cpus() // args.jobs)
    try:
        args.backend = choose_backend(args.backend)
        # A child started on another backend for a problem that needs it still records what the user asked for.
        from problems.parallel import REQUESTED_BACKEND_ENV

        args.requested_backend = os.environ.get(REQUESTED_BACKEND_ENV, args.backend)
    except BackendError as err:  # a KERAS_BACKEND this project does not run on
        print(f"error: {err} (set --backend or KERAS_BACKEND)", file=sys.stderr)
        return EXIT_USAGE
    return run_selected(args, selected)


def run_selected(args, selected) -> int:
    """Run each selected problem; checks the data directory and the output folder before any work."""
    from data_prep import DataError, resolve_data_dir
    from problems.context import RunContext, check_writable
    from problems.parallel import CHILD_ENV, run_parallel
    from problems.progress import Progress, recorded_seconds

    try:
        data_dir = resolve_data_dir(args.data_dir)
        check_writable(args.out)
    except (DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    dataset_dir = Path(args.dataset_dir) if args.dataset_dir else None
    edition_dir = (
        RunContext(args.edition, "", dataset_dir=dataset_dir, out_dir=Path(args.out)).results_root / args.edition
    )
    fan_out = not (CHILD_ENV in os.environ or any(k.startswith("KERASTUNER_") for k in os.environ))
    if args.jobs > 1 and len(selected) > 1 and fan_out:
        failed, record = run_parallel(args, selected, edition_dir, data_dir)
        return _finish_all(args, selected, edition_dir, failed, record)
    # A problem that cannot run on the chosen backend runs in a process of its own on one it can.
    elsewhere = [(pid, p) for pid, p in selected if p.backend_for(args.backend) != args.backend]
    here = [(pid, p) for pid, p in selected if p.backend_for(args.backend) == args.backend]
    if not here:  # all of them elsewhere: this process can simply take their backend
        args.backend = selected[0][1].backend_for(args.backend)
        elsewhere, here = [], selected
    started = time.perf_counter()
    failed_elsewhere = run_elsewhere(args, elsewhere, edition_dir, data_dir) if elsewhere else []
    all_selected, selected = selected, here
    start_backend(args.backend, args.threads)  # only once the options are known good: it takes seconds
    import keras_tuner  # noqa: F401  (imported before the freeze below)

    from problems.runner import run_problem, verdict
    from tuning.common import TuningError, WorkerFinished

    # keras-tuner and Keras call gc.collect() at every model build; with TensorFlow's hundreds of
    # thousands of long-lived objects each call took 0.3 s here (22 s of 2023 4E's 36 trials).
    # Freezing what exists now leaves those out of every later collection.
    gc.collect()
    gc.freeze()

    failed = list(failed_elsewhere)
    progress = Progress([pid for pid, _ in selected], recorded_seconds(edition_dir, [pid for pid, _ in selected]))
    progress.started = started  # the run's wall time includes what ran elsewhere

    for index, (pid, problem) in enumerate(selected):
        if len(selected) > 1:
            print(progress.line(index), flush=True)
        print(f"=== {args.edition} {pid}: {problem.title} (seed {args.seed})", flush=True)
        ctx = run_context(args, pid, data_dir, dataset_dir)
        try:
            result = run_problem(problem, ctx)
        except WorkerFinished as done:  # a distributed worker: the chief reports
            print(f"=== {pid}: {done}", flush=True)
            continue
        except (DataError, TuningError) as err:
            print(f"error: {args.edition} {pid}: {err}", file=sys.stderr)
            failed.append(pid)
            continue
        progress.finish(pid, result["wall_seconds"])
        said = verdict(result)
        if result["not_comparable"]:
            said += f" ({result['not_comparable']})"
        print(f"=== {pid}: {said} in {result['wall_seconds']:.0f} s; report {ctx.folder / 'result.json'}", flush=True)
    return _finish_all(args, all_selected, edition_dir, failed, progress.record())


def run_context(args, pid: str, data_dir, dataset_dir):
    """The ``RunContext`` of problem ``pid`` under the parsed options ``args``."""
    from problems.context import RunContext
    from problems.parallel import CHILD_ENV, child_argv

    return RunContext(
        edition=args.edition,
        problem_id=pid,
        seed=args.seed,
        seeds=args.seeds,
        epochs=args.epochs,
        data_dir=data_dir,
        dataset_dir=dataset_dir,
        covid_csv=Path(args.covid_csv) if args.covid_csv else None,
        repeats=args.repeats,
        test_as_validation=args.test_as_validation,
        replays=args.replays,
        out_dir=Path(args.out),
        tune=args.tune,
        trials=args.trials,
        tuner_dir=Path(args.tuner_dir),
        verbose=0 if args.quiet else 2,
        tensorboard=Path(args.tensorboard) if args.tensorboard else None,
        worker_timeout=args.worker_timeout,
        jobs=args.jobs,
        threads=args.threads,
        backend_requested=args.requested_backend,
        worker_argv=child_argv(args, pid, data_dir) + ["--quiet"],
        seed_workers=1 if CHILD_ENV in os.environ else args.jobs,
    )


def run_elsewhere(args, selected, edition_dir: Path, data_dir) -> list[str]:
    """Run ``selected`` in child processes, one per backend they need, one after the other; returns
    the ids that wrote no fresh ``result.json``. Their lines go straight to this terminal."""
    import subprocess

    from problems.parallel import child_argv, child_env, fresh_result

    failed = []
    for backend in dict.fromkeys(p.backend_for(args.backend) for _, p in selected):
        ids = [pid for pid, p in selected if p.backend_for(args.backend) == backend]
        print(f"=== {', '.join(ids)}: on {backend} in a process of its own (they do not run on {args.backend})")
        begun = time.time()
        subprocess.run(child_argv(args, ",".join(ids), data_dir, backend=backend), env=child_env(args))
        failed += [pid for pid in ids if fresh_result(edition_dir / pid, since=begun) is None]
    return failed


def _finish_all(args, selected, edition_dir: Path, failed: list[str], record: dict) -> int:
    """After the last problem: ``run_all.json`` for ``--problem all``, and the exit status."""
    from problems.report import atomic_write_text

    if args.problem.lower() == "all":
        record = {
            "edition": args.edition,
            "seed": args.seed,
            "backend": args.requested_backend,
            "threads": args.threads,
            "failed": failed,
            **record,
        }
        atomic_write_text(edition_dir / "run_all.json", json.dumps(record, indent=2) + "\n")
        print(f"=== {args.edition}: {len(selected)} problem(s) in {record['wall_seconds']:.0f} s", flush=True)
    if failed:
        print(f"error: {len(failed)} problem(s) failed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED
    return 0
