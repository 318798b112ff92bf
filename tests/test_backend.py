"""--backend: how the backend is chosen, and a problem that runs only on TensorFlow asked for on JAX."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from training.backend import (
    DEFAULT_BACKEND,
    JAX_ONE_THREAD_FLAGS,
    JAX_ONEDNN_FLAGS,
    BackendError,
    choose_backend,
    numerics_key,
    select_backend,
)


def test_the_flag_wins_over_the_environment_which_wins_over_the_default(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert choose_backend(None) == DEFAULT_BACKEND
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert choose_backend(None) == "tensorflow" and choose_backend("jax") == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    with pytest.raises(BackendError, match="unknown backend 'torch'"):
        choose_backend(None)


def test_one_thread_on_jax_is_said_to_xla_once(monkeypatch):
    import keras

    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/nowhere")
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    if keras.backend.backend() != "jax":
        with pytest.raises(BackendError, match="before jax could be chosen"):
            select_backend("jax", 1)
        return
    select_backend("jax", 1)
    select_backend("jax", 1)
    assert os.environ["XLA_FLAGS"] == f"--xla_dump_to=/nowhere {JAX_ONEDNN_FLAGS} {JAX_ONE_THREAD_FLAGS}"
    assert numerics_key(1) == "jax_t1_onednn"


def test_a_users_onednn_choice_wins_on_jax(monkeypatch):
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("select_backend('jax') needs a process where keras runs on jax")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_onednn=false")
    select_backend("jax", None)
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_use_onednn=false" and numerics_key(None) == "jax_tNone"


def test_a_tensorflow_child_of_a_jax_run_drops_the_onednn_flags():
    # keras is not imported in the child, so select_backend may switch it to tensorflow.
    code = (
        "import os; from training.backend import select_backend; "
        "select_backend('tensorflow', 1); print(repr(os.environ.get('XLA_FLAGS')))"
    )
    env = {**os.environ, "XLA_FLAGS": f"{JAX_ONEDNN_FLAGS} {JAX_ONE_THREAD_FLAGS}"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(JAX_ONE_THREAD_FLAGS)


def test_a_backend_the_project_does_not_run_on_is_a_usage_error(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    proc = subprocess.run(
        [sys.executable, "main.py", "--problem", "2A", "--out", str(tmp_path / "r")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2 and "unknown backend 'torch'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_a_tensorflow_only_problem_asked_for_on_jax_runs_on_tensorflow_and_says_so(tmp_path):
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "main.py", "--backend", "jax", "--problem", "1Ci,1Ai", "--jobs", "1", "--epochs", "2"]
        + ["--out", str(out), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    playground = json.loads((out / "2018" / "1Ai" / "result.json").read_text())
    gates = json.loads((out / "2018" / "1Ci" / "result.json").read_text())
    assert playground["backend"]["name"] == "tensorflow" and gates["backend"]["name"] == "jax"
    assert playground["settings"]["backend_requested"] == "jax"
    assert playground["notes"][0].startswith("Ran on tensorflow, not on the requested jax")
    assert not any("Ran on" in note for note in gates["notes"])
    summary = (out / "2018" / "summary.md").read_text()
    assert "| tensorflow |" in summary and "| jax |" in summary
