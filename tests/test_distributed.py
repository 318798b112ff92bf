"""Searches as real processes: killed with SIGKILL and rerun, and spread over a chief and workers.

Each test runs ``main.py --problem 2C --tune`` on a tiny 8x8 IDX set in a folder named data (so its
results go to out/data/; no course-sample baseline on such images), with a timeout so that a hang
fails the test instead of stalling the suite.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, write_tiny_idx_set

TIMEOUT = 300  # generous: three TensorFlow processes on a shared 2-core machine


@pytest.fixture
def tiny_set(tmp_path):
    (tmp_path / "data").mkdir()
    return write_tiny_idx_set(tmp_path / "data", side=8, classes=3, n_train=200, n_test=50, seed=0, gz_labels=False)


def _command(tmp_path, data, *extra):
    return [
        sys.executable,
        "main.py",
        "--problem",
        "2C",
        "--tune",
        "--trials",
        "4",
        "--epochs",
        "1",
        "--dataset-dir",
        str(data),
        "--tuner-dir",
        str(tmp_path / "runs"),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        *extra,
    ]


def _env(tuner_id=None, port=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if tuner_id:
        env.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(port))
    return env


def _start(cmd, env, log: Path):
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _trials(tmp_path) -> dict[str, dict]:
    found = {}
    for path in sorted((tmp_path / "runs").glob("mlp_*/trial_*/trial.json")):
        try:
            found[path.parent.name] = json.loads(path.read_text())
        except json.JSONDecodeError:  # being written right now
            continue
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.backends
def test_a_search_killed_mid_trial_resumes_and_keeps_finished_trials(tmp_path, tiny_set):
    cmd = _command(tmp_path, tiny_set)
    first = _start(cmd, _env(), tmp_path / "first.log")
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:  # kill once a trial is done and the next one is running
            statuses = [t["status"] for t in _trials(tmp_path).values()]
            if "COMPLETED" in statuses and "RUNNING" in statuses:
                time.sleep(0.2)  # into the trial's training
                break
            assert first.poll() is None, "the search finished before it could be killed"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(10)
    finished = {
        name: (tmp_path / "runs").glob(f"mlp_*/{name}/trial.json").__next__().read_bytes()
        for name, trial in _trials(tmp_path).items()
        if trial["status"] == "COMPLETED"
    }
    assert 1 <= len(finished) < 4

    rerun = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert not list((tmp_path / "runs").glob("*.unreadable-*")), rerun.stdout[-2000:]  # no file left half-written
    trials = _trials(tmp_path)
    assert len(trials) == 4 and {t["status"] for t in trials.values()} == {"COMPLETED"}
    for name, before in finished.items():  # finished trials were not run again
        assert next((tmp_path / "runs").glob(f"mlp_*/{name}/trial.json")).read_bytes() == before
    assert (tmp_path / "out/data/2018/2C/result.json").is_file()


def test_chief_and_two_workers_share_one_search(tmp_path, tiny_set):
    port = _free_port()
    cmd = _command(tmp_path, tiny_set)
    started = time.monotonic()
    procs = {name: _start(cmd, _env(name, port), tmp_path / f"{name}.log") for name in ("chief", "tuner0", "tuner1")}
    try:
        codes = {name: proc.wait(TIMEOUT) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    wall = time.monotonic() - started
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in procs}
    assert codes == {"chief": 0, "tuner0": 0, "tuner1": 0}, logs
    trials = _trials(tmp_path)
    assert len(trials) == 4 and {t["status"] for t in trials.values()} == {"COMPLETED"}
    ran = {name: logs[name].count("COMPLETED") for name in ("tuner0", "tuner1")}
    assert all(ran.values()) and sum(ran.values()) == 4, ran  # every trial ran exactly once, on a worker
    # Only the chief reports; the workers say they are done.
    assert "report" in logs["chief"] and all("the chief reports" in logs[w] for w in ran)
    assert (tmp_path / "out/data/2018/2C/search/trials.csv").read_text().count("COMPLETED") == 4
    print(f"chief + 2 workers: {wall:.1f} s wall")


def test_a_dead_worker_does_not_hang_the_chief(tmp_path, tiny_set):
    port, timeout = _free_port(), 15
    cmd = _command(tmp_path, tiny_set, "--worker-timeout", str(timeout))
    chief = _start(cmd, _env("chief", port), tmp_path / "chief.log")
    worker = _start(cmd, _env("tuner0", port), tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and not _trials(tmp_path):  # the worker has started a trial
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        code = chief.wait(timeout + 30)  # keras-tuner's own chief would wait forever (upstream #915)
    finally:
        for proc in (chief, worker):
            if proc.poll() is None:
                proc.kill()
    log = (tmp_path / "chief.log").read_text()
    assert code == 1 and "presumed dead" in log and "no worker contacted the chief" in log, log[-3000:]
    assert "RUNNING" not in {t["status"] for t in _trials(tmp_path).values()}  # the lost trial was ended


def test_a_chief_killed_mid_search_resumes_with_new_workers_and_keeps_finished_trials(tmp_path, tiny_set):
    # The chief (one process, --jobs 2) starts its own two workers; kill -9 on the chief alone.
    cmd = _command(tmp_path, tiny_set, "--jobs", "2", "--threads", "1")
    chief = subprocess.Popen(
        cmd, cwd=REPO, env=_env(), stdout=(tmp_path / "chief.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            statuses = [t["status"] for t in _trials(tmp_path).values()]
            if "COMPLETED" in statuses and "RUNNING" in statuses:
                break
            assert chief.poll() is None, (tmp_path / "chief.log").read_text()[-3000:]
            time.sleep(0.05)
        chief.send_signal(signal.SIGKILL)
        chief.wait(10)
        # Its workers notice and stop instead of waiting an hour for an answer (keras-tuner's timeout).
        workers_gone = time.monotonic() + 60
        while time.monotonic() < workers_gone and _session_alive(chief.pid):
            time.sleep(0.2)
        assert not _session_alive(chief.pid), "the dead chief's workers are still running"
    finally:
        _kill_session(chief.pid)
    done = [name for name, trial in _trials(tmp_path).items() if trial["status"] == "COMPLETED"]
    finished = {name: _trial_bytes(tmp_path, name) for name in done}
    assert 1 <= len(finished) < 4

    rerun = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert not list((tmp_path / "runs").glob("*.unreadable-*")), rerun.stdout[-2000:]  # no file left half-written
    trials = _trials(tmp_path)
    assert len(trials) == 4 and {t["status"] for t in trials.values()} == {"COMPLETED"}
    assert all(_trial_bytes(tmp_path, name) == before for name, before in finished.items())  # not run again
    assert (tmp_path / "out/data/2018/2C/search/search.json").is_file()


def _trial_bytes(tmp_path, name: str) -> bytes:
    return next((tmp_path / "runs").glob(f"mlp_*/{name}/trial.json")).read_bytes()


def _session_alive(session_id: int) -> bool:
    """Whether any process of the session ``session_id`` (the chief's and its workers') still runs."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id and fields[0] != "Z":  # fields: state, ppid, pgrp, session
            return True
    return False


def _kill_session(session_id: int) -> None:
    try:
        os.killpg(session_id, signal.SIGKILL)
    except ProcessLookupError:
        pass
