"""--jobs: problems side by side in child processes, and a dropout sweep spread over worker processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from problems import parallel
from problems.cli import build_parser
from problems.registry import resolve
from tests.conftest import REPO, write_tiny_idx_set


def _args(*argv):
    args = build_parser().parse_args(list(argv))
    args.jobs, args.threads = args.jobs or 2, args.threads or 1
    args.backend = args.requested_backend = args.backend or "jax"
    return args


def test_child_command_forwards_every_option_of_the_run():
    args = _args(
        "--problem", "all", "--edition", "2023", "--seed", "7", "--epochs", "2", "--out", "o", "--tuner-dir", "t",
        "--tune", "--trials", "3", "--repeats", "2", "--test-as-validation", "--quiet", "--tensorboard", "tb",
        "--covid-csv", "c.csv", "--dataset-dir", "d", "--worker-timeout", "30", "--jobs", "2", "--threads", "1",
        "--backend", "tensorflow", "--seeds", "3", "--replays",
    )  # fmt: skip
    argv = parallel.child_argv(args, "4F", data_dir="data")
    assert argv[:2] == [sys.executable, str(REPO / "main.py")]
    child = build_parser().parse_args(argv[2:])
    for name, value in vars(args).items():
        if name == "requested_backend":  # not an option: children read it from their environment
            continue
        expected = {"problem": "4F", "data_dir": "data"}.get(name, value)
        assert str(getattr(child, name)) == str(expected), name


def test_jobs_start_longest_first_and_the_short_problems_share_one_process():
    recorded = {"a": 5.0, "b": 50.0, "c": 24.0, "d": 9.0, "e": 12.0}
    # Unrecorded ones first (they may be long); a + d + e = 26 s together, which places them before c.
    assert parallel.plan_jobs(["a", "b", "c", "d", "new", "e"], recorded) == ["new", "b", "a,d,e", "c"]
    assert parallel.plan_jobs(["b", "c"], recorded) == ["b", "c"]
    # Short problems share a process only with those on the same backend (the Playground's stay on TensorFlow).
    backends = {"a": "tensorflow", "d": "jax", "e": "jax", "b": "jax", "c": "jax", "new": "jax"}
    assert parallel.plan_jobs(["a", "b", "c", "d", "new", "e"], recorded, backends) == ["new", "b", "c", "d,e", "a"]


def _fake_child(folder, seconds: float, code: int):
    """A stand-in for main.py: prints a line, sleeps, writes result.json (exit 0) or fails (exit 1)."""
    script = (
        "import json, pathlib, sys, time\n"
        f"print('working', flush=True); time.sleep({seconds})\n"
        f"if {code}: print('error: broken data', file=sys.stderr); sys.exit({code})\n"
        f"f = pathlib.Path({str(folder)!r}); f.mkdir(parents=True, exist_ok=True)\n"
        f"(f / 'result.json').write_text(json.dumps({{'wall_seconds': {seconds}, 'passed': True}}))\n"
    )
    return [sys.executable, "-c", script]


def test_problems_run_jobs_at_a_time_with_prefixed_lines_and_a_failure_counted(tmp_path, monkeypatch, capsys):
    edition_dir = tmp_path / "2018"
    seconds = {"2C": 1.5, "2D": 1.5, "2E": 1.5}
    monkeypatch.setattr(
        parallel,
        "child_argv",
        lambda args, pid, data_dir, **_: _fake_child(edition_dir / pid, seconds[pid], code=1 if pid == "2D" else 0),
    )
    selected = [pair for pid in seconds for pair in resolve("2018", pid)]
    started = time.perf_counter()
    failed, record = parallel.run_parallel(_args("--problem", "all"), selected, edition_dir, None)
    wall = time.perf_counter() - started
    out = capsys.readouterr().out
    assert failed == ["2D"]
    assert [row["id"] for row in record["problems"]] == ["2C", "2E"] and record["jobs"] == 2
    assert sorted(row["problems"][0] for row in record["processes"]) == ["2C", "2D", "2E"]
    assert wall < 2 * 1.5 + 1.5  # two at a time: about 3 s, where one after the other takes 4.5 s plus start-ups
    assert "   2C | working" in out and "   2D | error: broken data" in out
    assert "=== 2D: FAILED (exit status 1)" in out and "[3/3]" in out


def test_sweep_over_two_worker_processes_gives_the_numbers_of_one_process(tmp_path):
    """The same seeded trials, whichever process runs them: the chief starts two workers (--jobs 2),
    the other run does every trial itself with the same one thread per process."""
    (tmp_path / "data").mkdir()
    data = write_tiny_idx_set(tmp_path / "data", 8, classes=3, n_train=150, n_test=30, seed=0, gz_labels=False)
    rows = {}
    for jobs in ("2", "1"):
        out, runs = tmp_path / f"out{jobs}", tmp_path / f"runs{jobs}"
        command = [sys.executable, "main.py", "--problem", "3D", "--epochs", "1", "--dataset-dir", str(data)]
        command += ["--out", str(out), "--tuner-dir", str(runs), "--quiet", "--jobs", jobs, "--threads", "1"]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert ("worker tuner1: trial" in done.stdout) == (jobs == "2")
        result = json.loads((out / "data" / "2018" / "3D" / "result.json").read_text())
        assert result["settings"]["jobs"] == int(jobs) and result["settings"]["threads"] == 1
        rows[jobs] = [(row["p"], row["val_loss"]) for row in result["metrics"]["sweep"]]
    assert len(rows["2"]) == 10 and rows["2"] == rows["1"]


def test_a_problem_with_its_own_workers_holds_every_slot_until_it_releases_them(tmp_path, monkeypatch, capsys):
    """3D starts its sweep workers itself: nothing else starts beside it until it prints RELEASE."""
    edition_dir = tmp_path / "2018"

    def child(args, job, data_dir, **_):
        release = f"print({parallel.RELEASE + ' sweep done'!r}, flush=True); " if job == "3D" else ""
        script = (
            f"import json, pathlib, time; print('started', flush=True); time.sleep(1.0); {release}time.sleep(1.0)\n"
            f"f = pathlib.Path({str(edition_dir / job)!r}); f.mkdir(parents=True, exist_ok=True)\n"
            "(f / 'result.json').write_text(json.dumps({'wall_seconds': 2.0, 'passed': True}))\n"
        )
        return [sys.executable, "-c", script]

    monkeypatch.setattr(parallel, "child_argv", child)
    for pid, seconds in (("3D", 500.0), ("2C", 100.0)):  # recorded: 3D is planned first
        (edition_dir / pid).mkdir(parents=True)
        (edition_dir / pid / "result.json").write_text(json.dumps({"wall_seconds": seconds}))
    selected = resolve("2018", "3D") + resolve("2018", "2C")
    started = time.perf_counter()
    failed, _ = parallel.run_parallel(_args("--problem", "all"), selected, edition_dir, None)
    out = capsys.readouterr().out
    assert not failed and time.perf_counter() - started < 2.0 + 2.0 + 1.5  # 2C overlapped 3D's second second
    lines = out.splitlines()
    released = next(i for i, line in enumerate(lines) if parallel.RELEASE in line)
    assert released < next(i for i, line in enumerate(lines) if line.startswith("[2/2] 2C"))


def test_a_child_given_several_short_problems_runs_them_itself(tmp_path):
    """Regression: the process given the short problems together (--problem 2A,1Ci) read its own
    several ids as a reason to fan out again, and started copies of itself without end."""
    out = tmp_path / "out"
    command = [sys.executable, "main.py", "--problem", "2A,1Ci", "--out", str(out), "--quiet", "--jobs"]
    first = subprocess.run([*command, "1"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]  # one process; now both are recorded as short
    done = subprocess.run([*command, "2"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.count("=== process for") == 1  # one child, which ran both in turn:
    assert "2A,... | [1/2] 2A" in done.stdout and "2A,... | [2/2] 1Ci" in done.stdout
    assert "=== 2A: done" in done.stdout and "=== 1Ci: done" in done.stdout


def test_stopping_the_run_with_sigterm_stops_its_children(tmp_path):
    """A killed --problem all leaves no problem running on its own: the parent stops its children."""
    marker = tmp_path / "child.pid"
    script = (
        "import os, pathlib, subprocess, sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from problems import parallel\n"
        "from problems.cli import build_parser\n"
        "from problems.registry import resolve\n"
        "args = build_parser().parse_args(['--problem', 'all']); args.jobs, args.threads = 2, 1\n"
        "args.backend = args.requested_backend = 'jax'\n"
        "parallel.child_argv = lambda a, job, d, **_: [sys.executable, '-c', "
        f'"import os, pathlib, time; pathlib.Path({str(marker)!r}).write_text(str(os.getpid())); time.sleep(60)"]\n'
        f"parallel.run_parallel(args, resolve('2018', '2C'), pathlib.Path({str(tmp_path)!r}), None)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 30
    while not (marker.exists() and marker.read_text().strip()) and time.time() < deadline:
        time.sleep(0.1)  # the file can exist a moment before its pid is written
    child = int(marker.read_text())
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 128 + signal.SIGTERM
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie is gone
    except (ProcessLookupError, FileNotFoundError):
        return False


def test_a_helper_process_stops_within_seconds_of_its_parents_death():
    helper = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from training.processes import stop_with_parent\n"
        "stop_with_parent(int(sys.argv[1]), 'helper')\n"
        "print('watching', flush=True)\n"
        "time.sleep(60)\n"
    )
    # The parent starts the helper (a seed or search worker in a real run), says its pid once the
    # helper watches, and is then killed with no chance to clean up.
    parent_script = (
        "import os, subprocess, sys, time\n"
        f"argv = [sys.executable, '-c', {helper!r}, str(os.getpid())]\n"
        "helper = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)\n"
        "helper.stdout.readline()\n"
        "print(helper.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_script], stdout=subprocess.PIPE, text=True)
    helper = int(parent.stdout.readline())
    assert _alive(helper)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.time() + 10
    while _alive(helper) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(helper)
