"""Report writing: atomic files, the result schema, the summary table, and a whole run end to end."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from problems.cli import main
from problems.context import RunContext, check_writable
from problems.report import REQUIRED_KEYS, atomic_write_text, evaluate_targets, rebuild_reports, write_result
from tests.conftest import REPO


def _result(**over):
    base = {k: None for k in REQUIRED_KEYS}
    base.update(
        id="2C",
        edition="2018",
        title="MLP",
        metrics={"test_accuracy": 0.98, "test_loss": 0.06},
        reported={"test_accuracy": 0.9785},
        target={"test_accuracy": 0.975},
        passed=True,
        seed=1,
        wall_seconds=1.5,
        date="2026-11-22T00:00:00+00:00",
    )
    base.update(over)
    return base


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    atomic_write_text(path, "old")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_written_file_is_as_readable_as_any_the_user_writes(tmp_path):
    """Regression: mkstemp's private mode (0600) reached every report through the rename."""
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.md", "text")
    finally:
        os.umask(old)
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644


def test_write_result_refuses_an_incomplete_result(tmp_path):
    result = _result()
    del result["seed"]
    with pytest.raises(ValueError, match="seed"):
        write_result(tmp_path, result)
    assert not any(tmp_path.rglob("*.json"))


def test_write_result_writes_json_and_summary(tmp_path):
    path = write_result(tmp_path, _result())
    assert path == tmp_path / "2018" / "2C" / "result.json"
    assert json.loads(path.read_text())["metrics"]["test_accuracy"] == 0.98
    summary = (tmp_path / "2018" / "summary.md").read_text()
    assert "| [2C](2C/result.json) | MLP | test accuracy 0.9800, loss 0.0600 | test_accuracy 0.9785 |" in summary


def test_report_md_renders_tables_notes_and_plots(tmp_path):
    result = _result(
        notes=["a note"],
        plots=["curve.png"],
        metrics={"test_accuracy": 0.98, "sweep": [{"p": 0.1, "acc": 0.9}, {"p": 0.2, "acc": 0.8}]},
    )
    write_result(tmp_path, result)
    text = (tmp_path / "2018" / "2C" / "report.md").read_text()
    assert text.startswith("# 2018 2C: MLP")
    assert "- a note" in text and "![curve.png](curve.png)" in text
    assert "| p | acc |" in text and "| 0.2 | 0.8 |" in text
    (tmp_path / "2018" / "2C" / "report.md").unlink()
    assert rebuild_reports(tmp_path) == 1 and (tmp_path / "2018" / "2C" / "report.md").read_text() == text


def test_evaluate_targets():
    assert evaluate_targets({"test_accuracy": 0.98}, {"test_accuracy": 0.975}) is True
    assert evaluate_targets({"test_accuracy": 0.97}, {"test_accuracy": 0.975}) is False
    assert evaluate_targets({}, {"test_accuracy": 0.975}) is False
    assert evaluate_targets({"x": 1}, {}) is None


@pytest.mark.backends
def test_end_to_end_run_on_a_tiny_idx_set_is_its_own_result(tiny_idx_dir, tmp_path):
    # The whole path: CLI -> registry -> data -> model -> training -> result.json with every key; and
    # another data set never writes over MNIST's result nor borrows the write-ups' MNIST figures.
    out = tmp_path / "reports"
    mnist_result = write_result(out, _result())
    before = {p: p.read_bytes() for p in (out / "2018").rglob("*") if p.is_file()}
    args = ["--problem", "2C", "--epochs", "2", "--dataset-dir", str(tiny_idx_dir), "--out", str(out)]
    assert main([*args, "--seed", "4", "--quiet"]) == 0
    assert {p: p.read_bytes() for p in (out / "2018").rglob("*") if p.is_file()} == before  # MNIST's 2018/ untouched
    assert json.loads(mnist_result.read_text())["reported"] == {"test_accuracy": 0.9785}
    name = tiny_idx_dir.name
    folder = out / name / "2018" / "2C"
    result = json.loads((folder / "result.json").read_text())
    assert set(REQUIRED_KEYS) <= set(result)
    assert result["seed"] == 4 and result["epochs"] == 2 and result["hyperparameters"]["hidden_units"] == [100]
    assert result["budget"]["hidden_units_used"] <= 100 and result["params"] == 64 * 100 + 100 + 100 * 3 + 3
    # No MNIST figure or target, no pass/fail: the result says why instead.
    assert result["target"] == {} and result["reported"] == {} and result["passed"] is None
    assert result["not_comparable"] == "write-up figures are for MNIST" and result["dataset"] == name
    assert "goal_test_accuracy" not in result["metrics"] and "reached_goal" not in result["metrics"]
    assert "0.975" not in json.dumps(result["target"]) and "0.9785" not in json.dumps(result)
    # The data set is recorded by name and checksum, never by this machine's path.
    assert f"'{name}'" in result["data"] and "sha256" in result["data"] and str(tmp_path) not in result["data"]
    assert (folder / "training_curves.png").stat().st_size > 1000
    report = (folder / "report.md").read_text()
    assert "write-up figures are for MNIST" in report and "missed" not in report and "0.9785" not in report
    summary = (out / name / "2018" / "summary.md").read_text()
    assert f"on the data set '{name}'" in summary and "[2C](2C/result.json)" in summary and "0.9785" not in summary
    # Re-rendering finds both MNIST's results and the other data set's.
    assert rebuild_reports(out) == 2


def test_bad_data_dir_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["--problem", "2B", "--data-dir", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_corrupt_mnist_fails_the_run_with_exit_1(tmp_path, capsys):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"junk")
    out = tmp_path / "reports"
    assert main(["--problem", "2B", "--data-dir", str(tmp_path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "Traceback" not in err
    assert not out.exists()  # bad data leaves nothing behind: no result, no report folder, no empty root


def test_an_unwritable_output_folder_fails_in_one_line_before_any_work(tmp_path):
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "main.py", "--problem", "2C", "--out", "/proc/x"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode != 0 and proc.stdout == ""  # no "=== 2C" line: nothing started
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "/proc/x" in lines[0] and "Traceback" not in proc.stderr
    assert time.perf_counter() - started < 20  # a check, not a training run (TensorFlow is not even imported)


def test_the_write_check_leaves_nothing_behind(tmp_path):
    check_writable(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="cannot write to the output folder"):
        check_writable(tmp_path / "file" / "reports")


def test_write_checks_run_at_once_on_one_new_folder_all_pass(tmp_path):
    # A chief and its workers check the same new output folder at the same moment.
    from concurrent.futures import ThreadPoolExecutor

    def check(i):
        target = tmp_path / f"round{i // 8}" / "out"
        check_writable(target)
        return True

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(check, range(400)))
    assert list(tmp_path.iterdir()) == []  # and none of them left a folder behind


@pytest.mark.backends
def test_tensorflow_start_up_lines_are_hidden_by_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "main.py", "--problem", "3B", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no oneDNN, CUDA stub, CPU feature or absl lines
    assert proc.stdout.splitlines()[0].startswith("=== 2018 3B") and "608" in proc.stdout


def test_a_data_sets_report_folder_is_named_for_it_and_never_an_editions():
    def folder(dataset):
        return RunContext(edition="2018", problem_id="2C", out_dir=Path("out"), dataset_dir=dataset).folder

    assert folder(None) == Path("out/2018/2C")
    assert folder(Path("/data/Fashion MNIST!")) == Path("out/Fashion-MNIST/2018/2C")
    assert folder(Path("/data/2018")) == Path("out/dataset-2018/2018/2C")  # not inside MNIST's 2018/


def test_the_model_summary_counts_parameters_without_the_optimizers_state():
    # After training, Keras' own "Total params" adds the optimizer's slots (3D's 422,314 showed as 1,266,047).
    import keras
    import numpy as np

    from problems.report import model_summary

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    model.fit(np.zeros((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)
    text = model_summary(model)
    assert " Total params: 8 " in text and "Optimizer params" not in text
