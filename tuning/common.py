"""Helpers every search uses: resumable tuner folders, one ``run_search`` for one process or many
(keras-tuner's chief/worker mode), a loud failure when no trial succeeded, and the trials' table and plot."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import keras_tuner as kt
from keras_tuner.src import utils as kt_utils

from training.files import atomic_write_text
from tuning import CHIEF_PID_ENV, WORKER_TIMEOUT, TuningError  # noqa: F401  (re-exported: the searches import them)

_POLL_SECONDS = 0.5


def _tensorboard_per_trial(self, callbacks, trial, execution=0):
    """One TensorBoard folder per trial and execution on every backend.

    keras-tuner rewrites a TensorBoard callback's folder per trial only on TensorFlow (it adds its
    HParams dashboard there, whose API imports TensorFlow); on JAX every trial would write into the
    one folder given. Here the folder is rewritten on every backend, as keras-tuner names it; the
    HParams dashboard stays TensorFlow's alone.
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        return _KERAS_TUNER_TENSORBOARD_DIR(self, callbacks, trial, execution)
    for callback in callbacks:
        if callback.__class__.__name__ == "TensorBoard":
            callback.log_dir = self._get_tensorboard_dir(callback.log_dir, trial.trial_id, execution)


_KERAS_TUNER_TENSORBOARD_DIR = kt.Tuner._configure_tensorboard_dir
kt.Tuner._configure_tensorboard_dir = _tensorboard_per_trial  # every tuner here is a kt.Tuner


def _save_json_atomically(path, obj) -> str:
    """keras-tuner's ``utils.save_json`` (every ``oracle.json``, ``trial.json`` and ``tuner0.json`` goes
    through it), written to a temporary file and renamed over the target.

    keras-tuner opens the file with "w" and then writes: a SIGKILL between the two, which a chief
    writing on every trial's start and end meets easily, left the file empty, and the rerun had to set
    the whole folder aside and start over (found by the chief-kill test in CI). Now a killed run leaves
    the old file or the new one."""
    text = json.dumps(obj)
    atomic_write_text(path, text)
    return text


kt_utils.save_json = _save_json_atomically  # Stateful.save and Tuner look it up on the module at each call


class WorkerFinished(Exception):
    """This process was a distributed worker: it ran its trials and has nothing to report (not an error)."""


def role() -> str:
    """'chief', 'worker' or 'single', from keras-tuner's own variables (``KERASTUNER_TUNER_ID``,
    ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``); keras-tuner raises if one is missing."""
    from keras_tuner.src.distribute import utils as dist_utils

    if not dist_utils.has_chief_oracle():
        return "single"
    return "chief" if dist_utils.is_chief_oracle() else "worker"


def open_resumable(make_tuner, project_dir: Path):
    """Build a tuner with ``overwrite=False`` so an interrupted search resumes (keras-tuner retries the
    trial that was running). keras-tuner writes its JSON files in place, so a run killed mid-write can
    leave ``oracle.json`` or a ``trial.json`` truncated: only then (``json.JSONDecodeError`` while
    reloading) is the folder moved aside, with a warning, and the search started over. Every other
    error (a refused model, a Keras error, a changed search space) propagates. A worker never moves
    the shared folder: it may be reading a file the chief is writing, so it tries again.
    """
    try:
        tuner = make_tuner()
    except json.JSONDecodeError as err:
        if role() == "worker":
            time.sleep(1.0)
            return make_tuner()
        aside = project_dir.with_name(f"{project_dir.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        project_dir.rename(aside)
        print(f"warning: tuner folder {project_dir} is unreadable ({err}); moved it to {aside} and starting over")
        tuner = make_tuner()
    if role() != "worker":
        requeue_interrupted(tuner.oracle)
    return tuner


def requeue_interrupted(oracle) -> list[str]:
    """Queue for a rerun every reloaded trial still marked RUNNING that keras-tuner would not retry.

    ``Oracle.reload`` retries the trials listed as ongoing in ``oracle.json``, but ``create_trial``
    writes the new ``trial.json`` before ``oracle.json``: a kill between the two writes leaves a trial
    RUNNING forever, counted against ``max_trials`` and never run (found by the SIGKILL test).
    """
    queued = [
        trial_id
        for trial_id, trial in oracle.trials.items()
        if trial.status == "RUNNING"
        and trial_id not in oracle._retry_queue
        and trial_id not in {t.trial_id for t in oracle.ongoing_trials.values()}
    ]
    oracle._retry_queue.extend(queued)
    return queued


def run_search(
    tuner,
    *fit_args,
    tensorboard: Path | None = None,
    worker_timeout: float = WORKER_TIMEOUT,
    workers: tuple[list[str], int] | None = None,
    **fit_kwargs,
) -> None:
    """``tuner.search(...)`` in whichever role this process has; with ``tensorboard`` a folder, a
    TensorBoard callback that keras-tuner turns into one log per trial (and execution) with HParams.

    - single: the plain search; with ``workers`` = (command, count) and at least two trials left, this
      process becomes the chief of ``count`` worker processes it starts on this machine
      (``spawned_workers``), so the trials run side by side.
    - chief: serves the oracle to the workers over gRPC until every trial is done (``serve_as_chief``);
      it trains nothing itself. Afterwards ``tuner.oracle`` holds every trial, as in a single process.
    - worker: runs trials handed out by the chief until it says stop, then raises ``WorkerFinished``:
      a worker's oracle is a client with no trials, so there is nothing to report.
    """
    if tensorboard:
        import keras

        fit_kwargs["callbacks"] = [*fit_kwargs.get("callbacks", []), keras.callbacks.TensorBoard(str(tensorboard))]
    current = role()
    if current == "single" and workers:
        command, count = workers
        left = trials_left(tuner.oracle)
        count = count if left is None else min(count, left)
        if count > 1:
            tuner.oracle.verbose = fit_kwargs.get("verbose", 1)
            tuner.save()  # before the workers start: they load this state
            with spawned_workers(command, count) as procs:
                serve_as_chief(tuner.oracle, worker_timeout, procs)
            return
    if current == "chief":
        tuner.oracle.verbose = fit_kwargs.get("verbose", 1)
        tuner.save()
        serve_as_chief(tuner.oracle, worker_timeout)
        return
    if current == "worker":
        worker, ran = os.environ["KERASTUNER_TUNER_ID"], []
        end_trial = tuner.on_trial_end

        def on_trial_end(trial):  # say which trials this worker ran: the chief's display is the only other record
            end_trial(trial)
            ran.append(trial.trial_id)
            print(f"worker {worker}: trial {trial.trial_id} {trial.status}", flush=True)

        tuner.on_trial_end = on_trial_end
        with _heartbeat(tuner.oracle, worker_timeout / 4):
            tuner.search(*fit_args, **fit_kwargs)
        raise WorkerFinished(f"worker {worker} ran {len(ran)} trial(s) ({', '.join(ran) or 'none'}); the chief reports")
    tuner.search(*fit_args, **fit_kwargs)


def trials_left(oracle) -> int | None:
    """Trials the oracle will still hand out (None: no ``max_trials``, as in Hyperband)."""
    if not oracle.max_trials:
        return None
    return max(oracle.max_trials - len(oracle.trials), 0) + len(oracle._retry_queue)


@contextmanager
def spawned_workers(command: list[str], count: int):
    """Make this process the chief of a search and start ``count`` workers running ``command`` (the same
    problem with the same options) with keras-tuner's variables (``KERASTUNER_TUNER_ID`` tuner0...,
    the chief on a free loopback port); yields the worker processes. On the way out the variables
    are restored and the workers waited for (stopped if they outlive the search)."""
    with socket.socket() as probe:  # a free port: bind to 0, read it back, release it for gRPC
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chief = {"KERASTUNER_TUNER_ID": "chief", "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    saved = {name: os.environ.get(name) for name in chief}
    os.environ.update(chief)
    print(f"search: {count} worker processes on port {port}", flush=True)
    env = {**os.environ, CHIEF_PID_ENV: str(os.getpid())}
    procs = [subprocess.Popen(command, env={**env, "KERASTUNER_TUNER_ID": f"tuner{i}"}) for i in range(count)]
    try:
        yield procs
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait()


class _heartbeat:
    """While a worker trains, ask the chief for the search space every ``interval`` seconds: a cheap
    call whose only purpose is to tell the chief this worker is alive (trials can outlast the timeout)."""

    def __init__(self, client, interval: float):
        self.client, self.interval, self.stop = client, max(interval, 0.5), threading.Event()

    def _beat(self):
        while not self.stop.wait(self.interval):
            try:
                self.client.get_space()
            except Exception:  # the chief is gone or busy; the worker's own calls will say so
                pass

    def __enter__(self):
        threading.Thread(target=self._beat, daemon=True, name="kt-heartbeat").start()
        return self

    def __exit__(self, *exc):
        self.stop.set()


def serve_as_chief(oracle, worker_timeout: float = WORKER_TIMEOUT, workers: list | None = None) -> None:
    """Serve ``oracle`` to the workers until the search is done, with a bound keras-tuner 1.4.8 lacks.

    keras-tuner's own server (``keras_tuner.src.distribute.oracle_chief.start_server``) waits until no
    trial is running and every worker that ever asked for a trial has been told to stop: a worker that
    dies keeps its trial "running" and its id registered forever, so the chief hangs (upstream #915).
    This loop serves with keras-tuner's own ``OracleServicer`` and adds one rule: a worker not heard
    from for ``worker_timeout`` seconds (workers send a heartbeat while they train) is presumed dead;
    its trial is ended as FAILED and the worker is forgotten. If no worker at all is heard from for
    ``worker_timeout`` seconds while trials remain, the chief stops with ``TuningError``; rerunning the
    same command (chief and workers) resumes from the saved trials. With ``workers`` (the processes
    this chief started), it also stops as soon as every one of them has exited with trials left.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    servicer = _watched_servicer(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if server.add_insecure_port(address) == 0:
        raise TuningError(f"the chief cannot listen on {address} (port in use or address not local)")
    server.start()
    print(f"chief: serving the oracle on {address}; waiting for workers (timeout {worker_timeout:.0f} s)", flush=True)
    try:
        while True:
            time.sleep(_POLL_SECONDS)
            now = time.monotonic()
            for tuner_id in _forget_silent_workers(oracle, servicer, now - worker_timeout):
                print(f"chief: worker {tuner_id} silent for {worker_timeout:.0f} s: presumed dead", flush=True)
            if _search_done(oracle, servicer):
                return
            if workers and all(proc.poll() is not None for proc in workers):
                time.sleep(_POLL_SECONDS)  # a worker's last call may still be in flight
                if _search_done(oracle, servicer):
                    return
                codes = ", ".join(str(proc.returncode) for proc in workers)
                raise TuningError(
                    f"every worker process exited (status {codes}) before the search finished; "
                    "their lines above say why; rerun the same command to resume from the saved trials"
                )
            if now - servicer.last_contact > worker_timeout:
                raise TuningError(
                    f"no worker contacted the chief on {address} for {worker_timeout:.0f} s and the search is not "
                    "finished; start the workers (or rerun the same command) to resume from the saved trials"
                )
    finally:
        server.stop(grace=1.0)
        oracle.save()


def _watched_servicer(oracle):
    """keras-tuner's servicer, noting when each worker (known by its connection) last called. Built on
    demand: keras-tuner imports its gRPC modules only in distributed mode (protobuf version clashes)."""
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    class WatchedServicer(OracleServicer):
        def __init__(self):
            super().__init__(oracle)
            self.started = time.monotonic()
            self.last_contact = self.started  # any worker
            self.peers: dict[str, str] = {}  # connection -> tuner id
            self.seen: dict[str, float] = {}  # tuner id -> last call

        def note(self, context, tuner_id: str | None = None):
            now = time.monotonic()
            self.last_contact = now
            peer = context.peer()
            if tuner_id:
                self.peers[peer] = tuner_id
            if peer in self.peers:
                self.seen[self.peers[peer]] = now

    def watched(name):
        def call(self, request, context):
            self.note(context, getattr(request, "tuner_id", None) if name == "CreateTrial" else None)
            return getattr(OracleServicer, name)(self, request, context)

        return call

    for name in ("GetSpace", "UpdateSpace", "CreateTrial", "UpdateTrial", "EndTrial", "GetTrial", "GetBestTrials"):
        setattr(WatchedServicer, name, watched(name))
    return WatchedServicer()


@kt.synchronized
def _forget_silent_workers(oracle, servicer, deadline: float) -> list[str]:
    """End the trial of every worker last heard from before ``deadline`` as FAILED and forget the worker.
    Runs under the oracle's lock, like the servicer's calls."""
    gone = [t for t in list(oracle.tuner_ids) if servicer.seen.get(t, servicer.started) < deadline]
    for tuner_id in gone:
        trial = oracle.ongoing_trials.get(tuner_id)
        if trial is not None:
            trial.status = "FAILED"
            trial.message = f"worker {tuner_id} stopped answering; trial abandoned by the chief"
            oracle.end_trial(trial)
            oracle.ongoing_trials.pop(tuner_id, None)
        oracle.tuner_ids.discard(tuner_id)
        servicer.seen.pop(tuner_id, None)
    return gone


@kt.synchronized
def _search_done(oracle, servicer) -> bool:
    """keras-tuner's own exit rule (oracle_chief.exit_chief): some worker was told to stop, no trial runs
    and no registered worker remains."""
    return servicer.stop_triggered and not oracle.ongoing_trials and not oracle.tuner_ids


def completed_trials(tuner) -> list:
    return [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED" and t.score is not None]


def ensure_success(tuner) -> None:
    """keras-tuner's ``search()`` does not raise when every trial fails (for example without
    tensorboard installed); refuse to go on with no completed trial."""
    if completed_trials(tuner):
        return
    statuses = sorted({t.status for t in tuner.oracle.trials.values()}) or ["no trials"]
    raise TuningError(
        f"the keras-tuner search in {tuner.project_dir} finished with no successful trial "
        f"(statuses: {', '.join(statuses)}). Check that tensorboard is installed "
        "(pip install -r requirements.txt) and read the trial errors above; delete the folder to start over."
    )


def trials_table(tuner):
    """A pandas DataFrame, one row per trial: its id, status, score and hyperparameters, best first."""
    import pandas as pd

    rows = [
        {"trial": t.trial_id, "status": t.status, "score": t.score, **t.hyperparameters.values}
        for t in tuner.oracle.trials.values()
    ]
    return pd.DataFrame(rows).sort_values("score", ascending=False, na_position="last")


def best_so_far(table) -> list[dict]:
    """Trials in the order they were created, with the best score reached so far (failed trials keep
    the previous best): the curve that shows whether a search still improves."""
    best, rows = None, []
    for _, row in table.sort_values("trial", key=lambda ids: ids.astype(int)).iterrows():
        score = row["score"] if row["status"] == "COMPLETED" else None
        if score is not None and score == score and (best is None or score > best):
            best = float(score)
        rows.append({"trial": int(row["trial"]), "score": score, "best_so_far": best})
    return rows


def describe_search(tuner, trials_run: int) -> dict:
    """The oracle and the budget it was given, for the report."""
    oracle = tuner.oracle
    found = {"oracle": type(oracle).__name__.removesuffix("Oracle") or "Oracle", "trials_run": trials_run}
    for name in ("max_trials", "num_initial_points", "max_epochs", "factor", "hyperband_iterations"):
        value = getattr(oracle, name, None)
        if value is not None:
            found[name] = value if value != float("inf") else "unbounded"
    return found


def space_hash(hp: kt.HyperParameters, **caps) -> str:
    """A short fingerprint of the search space ``hp`` declares (every hyperparameter and its values)
    and of ``caps`` (the cost cap), for a project name: trials kept under another space are never
    resumed as this one's."""
    config = {"space": hp.get_config()["space"], **caps}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]


def data_key(*arrays) -> str:
    """A short fingerprint of the arrays a search trains and scores on, for its project name: a search
    resumes only on the same data."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(str(array.shape).encode())
        digest.update(array.data)
    return digest.hexdigest()[:10]
