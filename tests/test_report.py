"""Report writing: atomic files, the result schema, the summary table, and a whole run end to end."""

import json
import os

import pytest

from problems.cli import main
from problems.report import REQUIRED_KEYS, atomic_write_text, evaluate_targets, rebuild_reports, write_result


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
    assert "| [2C](2C/result.json) | MLP | test accuracy 0.98, loss 0.06 | test_accuracy 0.9785 |" in summary


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


def test_end_to_end_run_on_a_tiny_idx_set(tiny_idx_dir, tmp_path):
    # The whole path: CLI -> registry -> data -> model -> training -> result.json with every key.
    out = tmp_path / "reports"
    code = main(
        [
            "--problem",
            "2C",
            "--epochs",
            "2",
            "--dataset-dir",
            str(tiny_idx_dir),
            "--out",
            str(out),
            "--seed",
            "4",
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads((out / "2018" / "2C" / "result.json").read_text())
    assert set(REQUIRED_KEYS) <= set(result)
    assert result["seed"] == 4 and result["epochs"] == 2 and result["hyperparameters"]["hidden_units"] == [100]
    assert result["budget"]["hidden_units_used"] <= 100
    assert 0.0 <= result["metrics"]["test_accuracy"] <= 1.0 and result["params"] > 0
    assert (out / "2018" / "2C" / "training_curves.png").stat().st_size > 1000
    assert "2C" in (out / "2018" / "summary.md").read_text()


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
    assert not (out / "2018" / "2B" / "result.json").exists()
