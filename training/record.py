"""One train-and-score path: build a model, train it on a split, score it once on the test set, and
return a typed record of the run; and the figures of several such runs over seeds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class RunRecord:
    """One model trained with one seed and scored: what a report needs of a training run.

    Attributes:
        seed: the seed set before the model was built (weights, dropout masks, shuffles, shifts).
        backend, threads: the Keras backend and the threads it was given (training.backend).
        settings: what was trained, as the problem states it (epochs, batch size, shift, rates...).
        history: per-epoch curves (loss, accuracy, val_loss, val_accuracy).
        test_loss, test_accuracy: the test set, scored once after training.
        val_loss, val_accuracy, train_accuracy: the last epoch's.
        train_seconds: wall seconds of building, training and scoring.
        params: the model's parameters as the problems' limits count them (no optimizer state).
    """

    seed: int
    backend: str
    threads: int | None
    settings: dict
    history: dict[str, list[float]] = field(repr=False)
    test_loss: float
    test_accuracy: float
    val_loss: float
    val_accuracy: float
    train_accuracy: float
    train_seconds: float
    params: int

    def figures(self) -> dict:
        """This run's row of a per-seed table: everything but the settings and the curves."""
        found = asdict(self)
        for key in ("settings", "history", "backend", "threads"):
            found.pop(key)
        return found


def train_and_score(
    build: Callable[[], object],
    train,
    val,
    test,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    shift: int = 0,
    settings: dict | None = None,
    threads: int | None = None,
    check: Callable[[object], object] | None = None,
    verbose: int = 2,
    callbacks=None,
    image_shape=(28, 28),
):
    """Seed, build, check, train on ``train`` (monitoring ``val``), score ``test`` once.

    Args:
        build: makes the compiled model (called after seeding, so its weights follow ``seed``).
        train, val, test: (x, y) pairs.
        epochs, batch_size, seed, shift: the training (``shift``: pixel-shift augmentation).
        settings: what the record names as the run's settings (epochs, batch size, shift and seed
            are added).
        threads: the backend's threads, recorded.
        check: called on the built model before it trains; raises to refuse it (budget, constraints).
        verbose, callbacks, image_shape: passed to ``training.fit``.

    Returns:
        (RunRecord, the trained model).
    """
    import keras

    from training import EVAL_BATCH_SIZE, fit, history_record, set_seed

    started = time.perf_counter()
    set_seed(seed)
    model = build()
    if check is not None:
        check(model)
    history = fit(model, train, val, epochs, batch_size, seed, shift, verbose, callbacks, image_shape).history
    test_loss, test_accuracy = model.evaluate(*test, batch_size=EVAL_BATCH_SIZE, verbose=0)
    record = RunRecord(
        seed=seed,
        backend=keras.backend.backend(),
        threads=threads,
        settings={**(settings or {}), "epochs": epochs, "batch_size": batch_size, "shift": shift},
        history=history_record(history),
        test_loss=float(test_loss),
        test_accuracy=float(test_accuracy),
        val_loss=float(history["val_loss"][-1]),
        val_accuracy=float(history["val_accuracy"][-1]),
        train_accuracy=float(history["accuracy"][-1]),
        train_seconds=round(time.perf_counter() - started, 2),
        params=model.count_params(),
    )
    return record, model


def train_over_seeds(build, train, val, test, seeds: list[int], label: str, callbacks_for=None, **kwargs):
    """``train_and_score`` once per seed of ``seeds``, printing each seed's test figures after ``label``;
    ``callbacks_for(seed)`` gives each run its callbacks, ``kwargs`` the rest of ``train_and_score``'s.
    Returns (records, the first seed's trained model)."""
    records, first = [], None
    for seed in seeds:
        callbacks = callbacks_for(seed) if callbacks_for else None
        record, model = train_and_score(build, train, val, test, seed=seed, callbacks=callbacks, **kwargs)
        print(f"{label} seed {seed}: test loss {record.test_loss:.5f}, test accuracy {record.test_accuracy:.4f}")
        records.append(record)
        if first is None:
            first = model
    return records, first


def _std(values: list[float]) -> float | None:
    """The sample standard deviation; None for one value (no spread measured)."""
    return statistics.stdev(values) if len(values) > 1 else None


def seed_metrics(records: list[RunRecord], goal: float | None) -> dict:
    """The figures of ``records`` (one per seed) for result.json's ``metrics``: each figure's mean,
    the test figures' sample standard deviations, and whether the mean reaches ``goal`` (left out when
    ``goal`` is None: the goals are MNIST figures)."""
    found = {}
    for key in ("test_loss", "test_accuracy", "val_loss", "val_accuracy", "train_accuracy"):
        found[key] = statistics.fmean(getattr(r, key) for r in records)
    found["test_accuracy_std"] = _std([r.test_accuracy for r in records])
    found["test_loss_std"] = _std([r.test_loss for r in records])
    found["seeds"] = [r.seed for r in records]
    if goal is not None:
        found.update(goal_test_accuracy=goal, reached_goal=bool(found["test_accuracy"] >= goal))
    return found


def gap_against_spread(gap: float, spreads: list[float | None]) -> str:
    """Whether a difference between two figures exceeds the seed spread measured in the same run (the
    larger of the standard deviations given), as a phrase that follows "which": "exceeds the seed
    spread (0.0010)", "is within the seed spread (...)", or that none was measured (one seed)."""
    measured = [s for s in spreads if s is not None]
    if not measured:
        return "cannot be judged against noise: no seed spread was measured (one seed)"
    spread = max(measured)
    verdict = "exceeds the seed spread" if abs(gap) > spread else "is within the seed spread"
    return f"{verdict} ({spread:.4f})"
