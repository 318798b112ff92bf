"""What a run function receives: the parsed options, plus the helpers every problem needs."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from problems.registry import EDITIONS
from tuning import WORKER_TIMEOUT

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = "reports"  # the reports root, relative to where main.py is run (as --out's default)


@dataclass
class RunContext:
    """Settings of one run (see ``main.py --help``) and where its files go.

    Attributes:
        edition, problem_id: which problem, in which numbering.
        seed: the run's seed; the same seed on the same machine gives the same numbers.
        seeds: how many seeds a scored problem trains its final model with (seed, seed + 1, ...).
        epochs: override of the problem's epochs (None keeps its default).
        data_dir: folder holding mnist/ and covid/, or None for Keras' online fallback.
        dataset_dir: a folder of four IDX files used instead of MNIST (no checksums), or None. Its
            results are its own: they go under ``out_dir/<data set name>/``, never over MNIST's.
        covid_csv: a CDC case-surveillance CSV used instead of ``data_dir/covid/``, or None.
        out_dir: the reports root; this run writes under ``results_root/edition/problem_id``.
        tune: run the keras-tuner search instead of using the stored tuned settings.
        trials: number of tuner trials (None keeps the problem's default).
        tuner_dir: where keras-tuner keeps its trials (resumable).
        repeats: seeds per dropout-sweep point (3D/4F).
        test_as_validation: pass the test set as validation data, as the starter notebook did (3D/4F).
        replays: also train the write-ups' models and the starter's sweep beside ours (3D/4F;
            ``problems.replays``).
        verbose: Keras verbosity (2 = one line per epoch).
        tensorboard: a folder for Keras TensorBoard logs of every training run and search, or None.
        worker_timeout: seconds a distributed search's chief waits for a silent worker.
        jobs: processes working at once; a dropout sweep with trials left spreads them over this many
            worker processes, each running ``worker_argv`` (1: this process runs every trial).
        threads: the backend's threads in this process (None: its default; see training.backend).
        backend_requested: the backend the user asked for (``--backend``); a problem that cannot run
            on it runs on another (``Problem.backends``), and its report says so.
        worker_argv: the command that runs this problem with this run's options (a search worker).
        seed_workers: processes a scored problem's seeds train in at once (``--jobs``; 1 in a child of
            ``--problem all``, which holds one core of its own).
    """

    edition: str
    problem_id: str
    seed: int = 1
    seeds: int = 1
    epochs: int | None = None
    data_dir: Path | None = None
    dataset_dir: Path | None = None
    covid_csv: Path | None = None
    out_dir: Path = Path(DEFAULT_OUT)
    tune: bool = False
    trials: int | None = None
    tuner_dir: Path = REPO_ROOT / "tuner_runs"
    repeats: int = 1
    test_as_validation: bool = False
    replays: bool = False
    verbose: int = 2
    tensorboard: Path | None = None
    worker_timeout: float = WORKER_TIMEOUT
    jobs: int = 1
    threads: int | None = None
    backend_requested: str | None = None
    worker_argv: list[str] | None = None
    seed_workers: int = 1

    @property
    def seed_list(self) -> list[int]:
        """The seeds a scored problem trains its final model with: ``seed``, ``seed + 1``, ..."""
        return [self.seed + k for k in range(self.seeds)]

    @property
    def search_workers(self) -> tuple[list[str], int] | None:
        """(command, count) for a search spread over worker processes, or None to run it here."""
        return (self.worker_argv, self.jobs) if self.jobs > 1 and self.worker_argv else None

    def callbacks(self, name: str) -> list:
        """Keras callbacks for one training run called ``name``: a TensorBoard log under
        ``tensorboard/<edition>/<id>/<name>`` with ``--tensorboard``, else none."""
        if self.tensorboard is None:
            return []
        import keras

        return [keras.callbacks.TensorBoard(str(self.tensorboard_dir(name)))]

    def train_over_seeds(self, build, train, val, test, seeds=None, label=None, final_logs=True, **kwargs):
        """``training.record.train_over_seeds`` with this run's threads and verbosity; by default its
        seeds (``seed_list``) and its problem id as the label; with ``final_logs`` its final callbacks.
        ``kwargs`` are the training's (epochs, batch_size, shift, check, image_shape, settings)."""
        from training.record import train_over_seeds

        return train_over_seeds(
            build,
            train,
            val,
            test,
            seeds or self.seed_list,
            label or self.problem_id,
            callbacks_for=self.final_callbacks if final_logs else None,
            workers=self.seed_workers,
            threads=self.threads,
            verbose=self.verbose,
            **kwargs,
        )

    def final_callbacks(self, seed: int) -> list:
        """Callbacks of the final model's run with ``seed``: its log is "final" for the run's own seed."""
        return self.callbacks("final" if seed == self.seed else f"final_seed{seed}")

    def tensorboard_dir(self, name: str) -> Path | None:
        """Where the TensorBoard logs of ``name`` go (None without ``--tensorboard``)."""
        return None if self.tensorboard is None else Path(self.tensorboard) / self.edition / self.problem_id / name

    @property
    def dataset_name(self) -> str | None:
        """The ``--dataset-dir`` data set's name (its folder's name, made safe for a path), or None for MNIST."""
        if self.dataset_dir is None:
            return None
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(self.dataset_dir).resolve().name).strip("-.") or "dataset"
        return f"dataset-{name}" if name in EDITIONS else name  # never a folder that looks like an edition

    @property
    def on_write_up_data(self) -> bool:
        """True unless ``--dataset-dir`` replaces MNIST: only then are the write-ups' figures comparable."""
        return self.dataset_dir is None

    @property
    def results_root(self) -> Path:
        """``out_dir`` for MNIST runs; ``out_dir/<data set name>`` for a ``--dataset-dir`` run."""
        root = Path(self.out_dir)
        return root if self.dataset_name is None else root / self.dataset_name

    @property
    def folder(self) -> Path:
        """This problem's report folder. Not created here: every writer creates the parents it needs,
        so a run that fails on its data leaves nothing behind."""
        return self.results_root / self.edition / self.problem_id

    @cached_property
    def mnist(self):
        """MNIST as keras.datasets.mnist.load_data() returns it (or the --dataset-dir IDX set)."""
        from data_prep.mnist import load_idx_dataset, load_mnist

        if self.dataset_dir is not None:
            return load_idx_dataset(self.dataset_dir)
        return load_mnist(self.data_dir)

    @property
    def mnist_description(self) -> str:
        """What ``self.mnist`` is, by name and checksum (never a path of this machine), for the report."""
        from data_prep.mnist import describe_idx_dataset

        if self.dataset_dir is not None:
            return describe_idx_dataset(self.dataset_dir, self.dataset_name)
        if self.data_dir is not None:
            return "MNIST, four IDX files, sha256 verified (values in data_prep/mnist.py)"
        return "MNIST from keras.datasets.mnist.load_data() (Keras' download and its checksum)"


def check_writable(folder: str | Path) -> None:
    """Make sure ``folder`` can be created and written, leaving nothing behind.

    The probe is a uniquely named folder in the nearest existing ancestor, so that processes started
    together on one output folder (a chief and its workers) never remove each other's folders.

    Raises:
        OSError: with a one-line message naming the folder and the reason.
    """
    folder = Path(folder)
    base = folder
    while not base.exists() and base != base.parent:
        base = base.parent
    try:  # a folder made where the output folder would be made; mkdir itself says when base is a file
        os.rmdir(tempfile.mkdtemp(dir=base, prefix=".write-check-"))
    except OSError as err:
        raise OSError(f"cannot write to the output folder {folder}: {err.strerror or err}") from None


def versions() -> dict:
    """Installed versions of the stack, recorded with every result."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for dist in ("tensorflow", "jax", "keras", "keras-tuner", "numpy", "pandas", "matplotlib"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = None
    found["platform"] = platform.platform()
    return found


def git_commit() -> str:
    """HEAD's hash, with '+dirty' when tracked files outside reports/ differ from it; 'unknown' outside a checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            # reports/ is left out: a run rewrites the committed reports, which says nothing about the code.
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
