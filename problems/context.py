"""What a run function receives: the parsed options, plus the helpers every problem needs."""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunContext:
    """Settings of one run (see ``main.py --help``) and where its files go.

    Attributes:
        edition, problem_id: which problem, in which numbering.
        seed: the run's seed; the same seed on the same machine gives the same numbers.
        epochs: override of the problem's epochs (None keeps its default).
        data_dir: folder holding mnist/ and covid/, or None for Keras' online fallback.
        dataset_dir: a folder of four IDX files used instead of MNIST (no checksums), or None.
        covid_csv: a CDC case-surveillance CSV used instead of ``data_dir/covid/``, or None.
        out_dir: the reports root; this run writes under ``out_dir/edition/problem_id``.
        tune: run the keras-tuner search instead of using the stored tuned settings.
        trials: number of tuner trials (None keeps the problem's default).
        tuner_dir: where keras-tuner keeps its trials (resumable).
        repeats: seeds per dropout-sweep point (3D/4F).
        test_as_validation: pass the test set as validation data, as the starter notebook did (3D/4F).
        verbose: Keras verbosity (2 = one line per epoch).
        tensorboard: a folder for Keras TensorBoard logs of every training run and search, or None.
        worker_timeout: seconds a distributed search's chief waits for a silent worker.
    """

    edition: str
    problem_id: str
    seed: int = 1
    epochs: int | None = None
    data_dir: Path | None = None
    dataset_dir: Path | None = None
    covid_csv: Path | None = None
    out_dir: Path = REPO_ROOT / "reports"
    tune: bool = False
    trials: int | None = None
    tuner_dir: Path = REPO_ROOT / "tuner_runs"
    repeats: int = 1
    test_as_validation: bool = False
    verbose: int = 2
    tensorboard: Path | None = None
    worker_timeout: float = 600.0

    def callbacks(self, name: str) -> list:
        """Keras callbacks for one training run called ``name``: a TensorBoard log under
        ``tensorboard/<edition>/<id>/<name>`` with ``--tensorboard``, else none."""
        if self.tensorboard is None:
            return []
        import keras

        return [keras.callbacks.TensorBoard(str(self.tensorboard_dir(name)))]

    def tensorboard_dir(self, name: str) -> Path | None:
        """Where the TensorBoard logs of ``name`` go (None without ``--tensorboard``)."""
        return None if self.tensorboard is None else Path(self.tensorboard) / self.edition / self.problem_id / name

    @property
    def folder(self) -> Path:
        """This problem's report folder (created on first use)."""
        path = Path(self.out_dir) / self.edition / self.problem_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def mnist(self):
        """MNIST as keras.datasets.mnist.load_data() returns it (or the --dataset-dir IDX set)."""
        from data_prep.mnist import load_idx_dataset, load_mnist

        if self.dataset_dir is not None:
            return load_idx_dataset(self.dataset_dir)
        return load_mnist(self.data_dir)

    @property
    def data_source(self) -> str:
        if self.dataset_dir is not None:
            return f"IDX data set {self.dataset_dir} (header and size checks)"
        if self.data_dir is not None:
            return f"{Path(self.data_dir) / 'mnist'} (sha256 verified)"
        return "keras.datasets.mnist.load_data() (download)"


def versions() -> dict:
    """Installed versions of the stack, recorded with every result."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for dist in ("tensorflow", "keras", "keras-tuner", "numpy", "pandas", "matplotlib"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = None
    found["platform"] = platform.platform()
    return found


def git_commit() -> str:
    """HEAD's hash, with '+dirty' when tracked files differ from it; 'unknown' outside a checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
