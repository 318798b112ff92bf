"""The problem registry and the command line's handling of ids."""

import subprocess
import sys

import pytest

from problems.cli import main
from problems.registry import EDITIONS, PROBLEMS, groups, lookup, resolve, valid_ids
from tests.conftest import REPO


@pytest.mark.parametrize(("id_2018", "id_2023"), [("2C", "3B"), ("2D", "3C"), ("2E", "3D"), ("2B", "3A"), ("3D", "4F")])
def test_both_numberings_reach_one_implementation(id_2018, id_2023):
    assert lookup("2018", id_2018) is lookup("2023", id_2023)


def test_ids_are_unique_within_each_edition():
    for edition in EDITIONS:
        ids = [p.ids[edition].lower() for p in PROBLEMS if edition in p.ids]
        assert len(ids) == len(set(ids))


def test_lookup_is_case_insensitive_and_unknown_names_valid_ids():
    assert lookup("2023", "3d").key == "mlp_1000"
    with pytest.raises(KeyError, match="valid ids: 1A, 1B"):
        lookup("2023", "9Z")


def test_unknown_id_prints_one_line_exits_2_writes_nothing(tmp_path):
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "main.py", "--problem", "9Z", "--out", str(out)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "9Z" in lines[0] and "2C" in lines[0] and "2E" in lines[0]
    assert not out.exists()


def test_list_shows_every_id_and_status(capsys):
    assert main(["--list", "--edition", "2023"]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.splitlines()[1:] if line.startswith("  ")}
    assert list(lines) == valid_ids("2023")
    for pid in valid_ids("2023"):
        expected = "[implemented]" if lookup("2023", pid).implemented else "[not yet]"
        assert expected in lines[pid]


def test_negative_epochs_is_a_usage_error(capsys):
    assert main(["--problem", "2C", "--epochs", "0"]) == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edition", "asked", "runs"),
    [
        ("2018", "1A", ["1Ai", "1Aii"]),
        ("2018", "1c", ["1Ci", "1Cii"]),
        ("2018", "1Aii", ["1Aii"]),
        ("2018", "2C", ["2C"]),
        ("2023", "1A", ["1A"]),  # in 2023 1A is a problem of its own, not a group
    ],
)
def test_group_ids_run_every_part(edition, asked, runs):
    assert [pid for pid, _ in resolve(edition, asked)] == runs
    assert [problem.ids[edition] for _, problem in resolve(edition, asked)] == runs


def test_groups_are_found_from_the_ids_and_named_by_list_and_errors(capsys):
    assert groups("2018") == {"1A": ["1Ai", "1Aii"], "1C": ["1Ci", "1Cii"]} and groups("2023") == {}
    assert main(["--list"]) == 0
    text = capsys.readouterr().out
    assert "Group id 1A runs 1Ai and 1Aii." in text and "Group id 1C runs 1Ci and 1Cii." in text
    with pytest.raises(KeyError, match=r"1A \(= 1Ai \+ 1Aii\)"):
        resolve("2018", "1D")
    with pytest.raises(KeyError):
        resolve("2018", "1")  # a prefix that is not a group


def test_dataset_dir_with_a_problem_that_reads_no_mnist_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["--problem", "1B", "--dataset-dir", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not read" in err and "2C" in err and not out.exists()


def test_every_entry_runs_a_function_that_takes_its_options():
    # A typo in `run=` or in `options` would otherwise surface only when that problem is run.
    import inspect

    from problems.registry import PROBLEMS

    for problem in (p for p in PROBLEMS if p.implemented):
        func = problem.load_run()
        inspect.signature(func).bind("ctx", **problem.options)  # raises TypeError on a mismatch
        assert set(problem.backends) <= {"jax", "tensorflow"} and problem.backends, problem.key
