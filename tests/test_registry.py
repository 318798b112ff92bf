"""The problem registry and the command line's handling of ids."""

import subprocess
import sys

import pytest

from problems.cli import main
from problems.registry import EDITIONS, PROBLEMS, lookup, valid_ids
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
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert list(lines) == valid_ids("2023")
    for pid in valid_ids("2023"):
        expected = "[implemented]" if lookup("2023", pid).implemented else "[not yet]"
        assert expected in lines[pid]


def test_negative_epochs_is_a_usage_error(capsys):
    assert main(["--problem", "2C", "--epochs", "0"]) == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err
