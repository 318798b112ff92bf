"""``--problem all`` with ``--jobs N``: the problems run N at a time, each in its own ``main.py`` process.

Why processes: at the problem set's batch sizes most models keep fewer than two cores busy
(TensorFlow's per-op work is small), so two problems side by side, one thread each, finish sooner
than one after the other with two threads each (measured in benchmarks/speed.py). Each child is the
same command for one problem, so it writes its own report exactly as a single run would, and its
numbers do not depend on what runs beside it. The longest problems (by recorded wall time) start
first; the short ones share one process (``--problem 2A,2B,...``), since starting Python and
TensorFlow takes several seconds. Every line a child prints reaches this terminal prefixed with the
run's elapsed time and the child's problem ids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from problems.context import REPO_ROOT
from problems.progress import Progress, _clock, recorded_seconds
from problems.runner import verdict

POLL_SECONDS = 0.2
# Problems recorded under this many seconds run together in one process: each would otherwise spend
# longer starting Python and TensorFlow (about 7 s here) than working.
SHORT_SECONDS = 20.0
# A problem that spreads its search over worker processes (Problem.spreads_search) holds every slot
# from its start (no other problem would find a free core); it prints a line starting with this
# when the workers are done, and from then on holds one slot.
RELEASE = "slots released:"
# Set in every child's environment: a child runs its problems itself, one after the other, and never
# fans out again (a child given several short problems would otherwise start children of its own).
CHILD_ENV = "PS4_PARALLEL_CHILD"
# The backend the user asked for, as a child started on another one (Problem.backends) records it.
REQUESTED_BACKEND_ENV = "PS4_REQUESTED_BACKEND"


def child_env(args) -> dict:
    """The environment of a child process of this run: it never fans out again, and knows the backend asked for."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", CHILD_ENV: "1", REQUESTED_BACKEND_ENV: args.requested_backend}


def child_argv(args, pid: str, data_dir: Path | None, backend: str | None = None) -> list[str]:
    """The command that runs problem ``pid`` alone with the options of this run (``args``), on
    ``backend`` (default: the run's)."""
    argv = [sys.executable, str(REPO_ROOT / "main.py"), "--problem", pid, "--edition", args.edition]
    argv += ["--backend", backend or args.backend]
    argv += ["--seed", str(args.seed), "--seeds", str(args.seeds), "--out", str(args.out)]
    argv += ["--tuner-dir", str(args.tuner_dir)]
    argv += ["--jobs", str(args.jobs), "--threads", str(args.threads), "--repeats", str(args.repeats)]
    argv += ["--worker-timeout", str(args.worker_timeout)]
    for option, value in (
        ("--epochs", args.epochs),
        ("--trials", args.trials),
        ("--data-dir", data_dir),
        ("--dataset-dir", args.dataset_dir),
        ("--covid-csv", args.covid_csv),
        ("--tensorboard", args.tensorboard),
    ):
        if value is not None:
            argv += [option, str(value)]
    flags = (
        ("--tune", args.tune),
        ("--test-as-validation", args.test_as_validation),
        ("--replays", args.replays),
        ("--quiet", args.quiet),
    )
    for flag, on in flags:
        if on:
            argv.append(flag)
    return argv


def plan_jobs(ids: list[str], recorded: dict[str, float], backends: dict[str, str] | None = None) -> list[str]:
    """One job per process, as the ``--problem`` value it runs: each problem recorded at
    ``SHORT_SECONDS`` or more (or never recorded) alone, the short ones together (one process per
    backend in ``backends``, {id: backend}); longest first (ties keep the registry's order), so that
    the last slot does not idle while a long one runs."""
    backends = backends or {}
    short = [pid for pid in ids if recorded.get(pid, float("inf")) < SHORT_SECONDS]
    jobs = [pid for pid in ids if pid not in short]
    for backend in dict.fromkeys(backends.get(pid) for pid in short):
        jobs.append(",".join(pid for pid in short if backends.get(pid) == backend))
    return sorted(jobs, key=lambda job: -job_seconds(job, recorded))


def job_seconds(job: str, recorded: dict[str, float]) -> float:
    return sum(recorded.get(pid, float("inf")) for pid in job.split(","))


def _relay(job: str, stream, lock: threading.Lock, started: float, slots: dict[str, int]) -> None:
    name = job if len(job) <= 5 else job.split(",")[0] + ",..."
    for line in stream:
        with lock:
            if line.startswith(RELEASE):
                slots[job] = 1
            sys.stdout.write(f"{_clock(time.perf_counter() - started)} {name:>5} | {line}")
            sys.stdout.flush()


def run_parallel(args, selected, edition_dir: Path, data_dir: Path | None) -> tuple[list[str], dict]:
    """Run ``selected`` ((id, Problem) pairs) ``args.jobs`` processes at a time; returns (failed ids,
    run record).

    A problem whose process exits non-zero without writing a fresh ``result.json`` counts as failed
    (its own message says why); the others go on. If this process is stopped (Ctrl-C, SIGTERM), the
    running children are stopped too: each writes its report atomically, so none is left half-written.
    """
    ids = [pid for pid, _ in selected]
    recorded = recorded_seconds(edition_dir, ids)
    backends = {pid: problem.backend_for(args.backend) for pid, problem in selected}
    order = plan_jobs(ids, recorded, backends)
    expected = {job: job_seconds(job, recorded) for job in order}
    progress = Progress(order, {job: s for job, s in expected.items() if s < float("inf")}, jobs=args.jobs)
    env = child_env(args)
    lock = threading.Lock()
    # job -> (process, its relay thread, start by perf_counter, start by the clock that dates files)
    running: dict[str, tuple[subprocess.Popen, threading.Thread, float, float]] = {}
    failed: list[str] = []
    walls: dict[str, float] = {}
    processes: list[dict] = []  # each child's whole life: TensorFlow's import and data loading too
    spreads = {pid for pid, problem in selected if problem.spreads_search and not args.tune}
    slots: dict[str, int] = {}  # slots each running job holds
    queue = list(order)
    # SIGTERM would end this process without running the ``finally`` below: make it an exit that does.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        while queue or running:
            while queue and (not running or sum(slots.values()) + _slots(queue[0], spreads, args.jobs) <= args.jobs):
                job = queue.pop(0)
                slots[job] = _slots(job, spreads, args.jobs)
                now = time.perf_counter()
                with lock:
                    ran = {other: now - start for other, (_, _, start, _) in running.items()}
                    print(progress.line(len(order) - len(queue) - 1, ran), flush=True)
                argv = child_argv(args, job, data_dir, backend=backends[job.split(",")[0]])
                proc, relay = _start_child(job, argv, env, lock, progress.started, slots)
                running[job] = (proc, relay, now, time.time())
            time.sleep(POLL_SECONDS)
            for job, (proc, relay, start, begun) in list(running.items()):
                if proc.poll() is None:
                    continue
                relay.join()
                del running[job], slots[job]
                seconds = time.perf_counter() - start
                processes.append({"problems": job.split(","), "seconds": round(seconds, 1)})
                progress.finish(job, _collect_results(job, proc.returncode, begun, edition_dir, lock, failed, walls))
                with lock:
                    print(f"=== process for {job} ended after {seconds:.0f} s (start-up included)", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_children([proc for proc, *_ in running.values()])
    record = progress.record()
    record["problems"] = [{"id": pid, "wall_seconds": round(walls[pid], 1)} for pid in ids if pid in walls]
    record["processes"] = processes
    return failed, record


def _start_child(
    job: str, argv: list[str], env: dict, lock: threading.Lock, started: float, slots: dict[str, int]
) -> tuple[subprocess.Popen, threading.Thread]:
    """Start ``job``'s process, and the thread that relays its lines (stderr too) to this terminal."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    relay = threading.Thread(target=_relay, args=(job, proc.stdout, lock, started, slots), daemon=True)
    relay.start()
    return proc, relay


def _collect_results(
    job: str, returncode: int, begun: float, edition_dir: Path, lock: threading.Lock, failed: list, walls: dict
) -> float:
    """After ``job``'s process ended: each of its problems' verdict printed and its wall seconds put in
    ``walls``, or, with no fresh ``result.json``, its id in ``failed``. Returns the job's wall seconds."""
    job_wall = 0.0
    for pid in job.split(","):
        result = fresh_result(edition_dir / pid, since=begun)
        if result is None:
            failed.append(pid)
            with lock:
                print(f"=== {pid}: FAILED (exit status {returncode}); its lines above say why", flush=True)
            continue
        walls[pid] = result["wall_seconds"]
        job_wall += result["wall_seconds"]
        with lock:
            print(f"=== {pid}: {verdict(result)} in {result['wall_seconds']:.0f} s", flush=True)
    return job_wall


def _stop_children(procs: list[subprocess.Popen]) -> None:
    """Stop the children still running when the run was stopped early: all asked at once, each then
    given 30 s to write its report before it is killed."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _slots(job: str, spreads: set[str], jobs: int) -> int:
    return jobs if spreads & set(job.split(",")) else 1


def fresh_result(folder: Path, since: float) -> dict | None:
    """``folder/result.json`` if this run wrote it (modified after ``since``), else None."""
    path = folder / "result.json"
    try:
        if path.stat().st_mtime < since:
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
